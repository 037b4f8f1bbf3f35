// Package images builds the operator's three OCI images (hack/image/ociimage, as `make image bundle-image
// catalog-image` does), pushes them to a registry on loopback (go-containerregistry's), pulls them back, and checks
// what a cluster would run: user, entrypoint, labels, the files in the layers, and that builds are reproducible.
package images

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// startRegistry serves an in-memory OCI registry on loopback for the test.
func startRegistry(t *testing.T) string {
	t.Helper()
	addr, stop, err := ociimage.ServeRegistry("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(stop)
	return addr
}

// staticManager builds the manager as the operator image carries it: static, for linux/amd64.
func staticManager(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "manager")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = harness.RepoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	return out
}

// pushAndPull pushes a to the registry under repo:tag and pulls back the image for linux/amd64.
func pushAndPull(t *testing.T, reg, repo string, a any) v1.Image {
	t.Helper()
	ref := reg + "/" + repo + ":test"
	digest, err := ociimage.Push(ref, a)
	require.NoError(t, err)
	r, err := ociimage.ParseReference(reg + "/" + repo + "@" + digest.String())
	require.NoError(t, err)
	img, err := remote.Image(r, remote.WithPlatform(amd64))
	require.NoError(t, err)
	return img
}

// files lists the paths in an image's filesystem with their tar headers.
func files(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	eachEntry(t, img, func(hdr *tar.Header, _ io.Reader) { out["/"+strings.TrimSuffix(hdr.Name, "/")] = hdr })
	return out
}

// eachEntry calls fn with each entry of img's flattened filesystem, in order, and a reader of its contents.
func eachEntry(t *testing.T, img v1.Image, fn func(hdr *tar.Header, contents io.Reader)) {
	t.Helper()
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err)
		fn(hdr, tr)
	}
}

func TestTheOperatorImageHoldsOnlyTheStaticManagerAndRunsAsNonRoot(t *testing.T) {
	binary := staticManager(t)
	labels := map[string]string{"org.opencontainers.image.version": "0.0.0-test"}
	img, err := ociimage.Operator(amd64, binary, labels)
	require.NoError(t, err)
	idx, err := ociimage.Index(img)
	require.NoError(t, err)

	pulled := pushAndPull(t, startRegistry(t), "configmapsync-operator", idx)
	cfg, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "65532:65532", cfg.Config.User, "numeric, non-root")
	assert.Equal(t, []string{"/manager"}, cfg.Config.Entrypoint)
	assert.Equal(t, "0.0.0-test", cfg.Config.Labels["org.opencontainers.image.version"])
	assert.Equal(t, "amd64", cfg.Architecture)
	assert.True(t, cfg.Created.Equal(ociimage.Epoch), "a fixed creation time")

	fs := files(t, pulled)
	assert.Contains(t, fs, "/manager")
	assert.EqualValues(t, 0o755, fs["/manager"].Mode&0o777)
	for path := range fs {
		assert.Contains(t, []string{"/manager", "/tmp"}, path, "nothing but the manager: no shell, no package manager")
	}
	elf, err := os.ReadFile(binary)
	require.NoError(t, err)
	assert.NotContains(t, string(elf), "/lib64/ld-linux-x86-64.so.2", "a static binary: the image has no libc")
}

func TestImagesAreReproducible(t *testing.T) {
	digests := map[v1.Hash]bool{}
	for range 2 {
		img, err := ociimage.Bundle(harness.Path("bundle"), amd64)
		require.NoError(t, err)
		digest, err := img.Digest()
		require.NoError(t, err)
		digests[digest] = true
	}
	assert.Len(t, digests, 1, "the same inputs give the same digest")
}

// TestTheBundleImageIsWhatBundleDockerfileBuilds builds the bundle image from bundle/ (as `make bundle-image`
// does) and checks that it is exactly the image bundle.Dockerfile describes (same digest), that its labels are the
// annotations OLM reads from bundle/metadata/annotations.yaml, and that it holds the manifests, metadata and
// scorecard config at the paths those labels name.
func TestTheBundleImageIsWhatBundleDockerfileBuilds(t *testing.T) {
	img, err := ociimage.Bundle(harness.Path("bundle"), amd64)
	require.NoError(t, err)
	d, err := ociimage.ParseDockerfile(harness.Path("bundle.Dockerfile"))
	require.NoError(t, err)
	fromDockerfile, err := ociimage.FromDockerfile(d, harness.RepoRoot, amd64, nil)
	require.NoError(t, err)
	assert.Equal(t, digestOf(t, fromDockerfile), digestOf(t, img), "bundle.Dockerfile builds the same image")

	pulled := pushAndPull(t, startRegistry(t), "configmapsync-operator-bundle", img)
	raw, err := os.ReadFile(harness.Path("bundle", "metadata", "annotations.yaml"))
	require.NoError(t, err)
	var annotations struct {
		Annotations map[string]string `json:"annotations"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &annotations))
	cfg, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, annotations.Annotations, cfg.Config.Labels, "the labels are annotations.yaml")
	assert.Equal(t, d.Labels, cfg.Config.Labels, "and bundle.Dockerfile's labels")

	fs := files(t, pulled)
	for _, dir := range []string{"manifests", "metadata", "tests/scorecard"} {
		entries, err := os.ReadDir(harness.Path("bundle", dir))
		require.NoError(t, err)
		require.NotEmpty(t, entries)
		for _, e := range entries {
			assert.Contains(t, fs, "/"+dir+"/"+e.Name())
		}
	}
	assert.Equal(t, "manifests/", cfg.Config.Labels["operators.operatorframework.io.bundle.manifests.v1"])
}

// digestOf returns an image's digest.
func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	digest, err := img.Digest()
	require.NoError(t, err)
	return digest
}
