package images

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// bundleDirs are the bundles the catalog ships: 0.1.0 (kept as test data) and the current one.
var bundleDirs = []string{harness.Path("tests", "testdata", "bundle-0.1.0"), harness.Path("tests", "testdata", "bundle-0.2.0"),
	harness.Path("bundle")}

// catalogBundle is the part of an olm.bundle entry of the file-based catalog this test reads.
type catalogBundle struct {
	Schema        string `json:"schema"`
	Name          string `json:"name"`
	Image         string `json:"image"`
	RelatedImages []struct {
		Image string `json:"image"`
	} `json:"relatedImages"`
}

// TestTheCatalogNamesEachBundleImageByDigest checks that every bundle of catalog/ names its bundle image by the
// digest of the image built from its folder (as `make catalog` renders it and `make bundle-image` publishes it),
// in the bundle repository beside the operator image, and lists it among its relatedImages (what oc-mirror
// copies into a disconnected registry).
func TestTheCatalogNamesEachBundleImageByDigest(t *testing.T) {
	entries := catalogBundles(t)
	require.Len(t, entries, len(bundleDirs))
	for _, dir := range bundleDirs {
		csv := readCSV(t, dir)
		entry, ok := entries[csv.Name]
		if !assert.True(t, ok, "catalog/ has %s", csv.Name) {
			continue
		}
		img, err := ociimage.Bundle(dir, amd64)
		require.NoError(t, err)
		operatorRepo, _, _ := strings.Cut(csv.Annotations["containerImage"], ":")
		want := operatorRepo + "-bundle@" + digestOf(t, img).String()
		assert.Equal(t, want, entry.Image, "%s: its bundle image, by digest", csv.Name)
		var related []string
		for _, r := range entry.RelatedImages {
			related = append(related, r.Image)
		}
		assert.Contains(t, related, want, "%s: relatedImages", csv.Name)
	}
}

// TestTheCatalogImageServesFromItsPrebuiltCache builds the catalog image with the opm and grpc_health_probe built
// here and opm's cache made at build time, runs it with runc as OLM's catalog operator runs a CatalogSource pod in
// a restricted namespace (the image's entrypoint and cmd, user 1001, every capability dropped, a network of its
// own), and probes it the way that pod's probes do (`grpc_health_probe -addr=:50051` inside the container). opm
// refuses to serve when the cache does not match the catalog, so a served catalog proves the cache.
func TestTheCatalogImageServesFromItsPrebuiltCache(t *testing.T) {
	runc := lookRunc(t)
	base := ociimage.OpmBase{Opm: tool(t, "OPM_STATIC"), HealthProbe: tool(t, "GRPC_HEALTH_PROBE"),
		ServeCache: filepath.Join(t.TempDir(), "cache")}
	out, err := exec.Command(tool(t, "SERVECACHE"), harness.Path("catalog"), base.ServeCache).CombinedOutput()
	require.NoError(t, err, "%s", out)
	d, err := ociimage.ParseDockerfile(harness.Path("catalog.Dockerfile"))
	require.NoError(t, err)
	img, err := ociimage.Catalog(d, harness.RepoRoot, amd64, base)
	require.NoError(t, err)
	again, err := ociimage.Catalog(d, harness.RepoRoot, amd64, base)
	require.NoError(t, err)
	assert.Equal(t, digestOf(t, img), digestOf(t, again), "reproducible, cache included")

	pulled := pushAndPull(t, startRegistry(t), "configmapsync-operator-catalog", img)
	cfg, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "/configs", cfg.Config.Labels["operators.operatorframework.io.index.configs.v1"])
	assert.Equal(t, []string{"/bin/opm"}, cfg.Config.Entrypoint)
	assert.Equal(t, []string{"serve", "/configs", "--cache-dir=/tmp/cache"}, cfg.Config.Cmd)
	fs := files(t, pulled)
	for _, path := range []string{"/bin/opm", "/bin/grpc_health_probe", "/configs/configmapsync-operator/catalog.yaml",
		"/tmp/cache/digest"} {
		assert.Contains(t, fs, path)
	}

	// The pod OLM v0 makes for a CatalogSource (pkg/controller/registry/reconciler), restricted security config.
	pod := corev1.PodSpec{
		SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1001), RunAsNonRoot: ptr.To(true)},
		Containers: []corev1.Container{{
			Name: "registry-server",
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("50Mi")}},
			SecurityContext: &corev1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false),
				AllowPrivilegeEscalation: ptr.To(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}},
	}
	c := startContainer(t, runc, containerSpec(t, runc, podContainer{
		Rootfs: unpack(t, pulled), Image: cfg.Config, Pod: pod, Namespace: "olm"}))
	require.Eventually(t, func() bool { return c.exited() || c.exec(t, "grpc_health_probe", "-addr=:50051") == nil },
		harness.WaitFor, harness.Tick, "the catalog's probe passes")
	require.False(t, c.exited(), "the container exited:\n%s", c.output())
	assert.Contains(t, c.output(), "found existing cache contents", "served from the cache built into the image")
	assert.NotContains(t, c.output(), "building cache")
}

// catalogBundles reads the olm.bundle entries of catalog/, by name.
func catalogBundles(t *testing.T) map[string]catalogBundle {
	t.Helper()
	raw, err := os.ReadFile(harness.Path("catalog", "configmapsync-operator", "catalog.yaml"))
	require.NoError(t, err)
	out := map[string]catalogBundle{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		var entry catalogBundle
		require.NoError(t, yaml.Unmarshal(doc, &entry))
		if entry.Schema == "olm.bundle" {
			out[entry.Name] = entry
		}
	}
}

// readCSV reads the ClusterServiceVersion in a bundle folder's manifests.
func readCSV(t *testing.T, dir string) operatorsv1alpha1.ClusterServiceVersion {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, "manifests", "*.clusterserviceversion.yaml"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	raw, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	var csv operatorsv1alpha1.ClusterServiceVersion
	require.NoError(t, yaml.Unmarshal(raw, &csv))
	return csv
}

// tool returns the path of a binary the Makefile builds and passes in the environment variable name.
func tool(t *testing.T, name string) string {
	t.Helper()
	path := os.Getenv(name)
	require.NotEmpty(t, path, "%s is not set: `make test` builds it and sets it", name)
	return path
}
