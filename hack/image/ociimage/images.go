package ociimage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// NonRoot is the numeric user and group the operator image runs as: distroless's "nonroot", which the CSV's
// restricted security context (runAsNonRoot) accepts without a passwd file.
const NonRoot = "65532:65532"

// tmp is a world-writable /tmp with the sticky bit, for programs that need scratch space: an emptyDir is mounted
// over it where the root filesystem is read-only.
var tmp = File{Path: "/tmp", Dir: true, Mode: 0o1777}

// Operator returns the operator image for one platform: the static manager binary at /manager and nothing else
// (no shell, no package manager), run as NonRoot.
func Operator(platform v1.Platform, binary string, labels map[string]string) (v1.Image, error) {
	return Image(Spec{
		Platform:   platform,
		Files:      []File{{Path: "/manager", Source: binary, Mode: 0o755}, tmp},
		User:       NonRoot,
		Entrypoint: []string{"/manager"},
		WorkingDir: "/",
		Labels:     labels,
	})
}

// Base stands in for the image a Dockerfile builds FROM: its files, user and environment, and how the
// Dockerfile's RUN instructions are carried out without a container engine.
type Base struct {
	Files []File
	User  string
	Env   []string
	// Run returns the files one RUN instruction adds; nil refuses every RUN.
	Run func(args []string) ([]File, error)
}

// FromDockerfile builds the image a Dockerfile of the supported subset describes, for one platform, from the
// build context dir. Its FROM must be "scratch", unless base stands in for the base image.
func FromDockerfile(d Dockerfile, context string, platform v1.Platform, base *Base) (v1.Image, error) {
	if base == nil {
		if d.From != "scratch" {
			return nil, fmt.Errorf("FROM %s: only scratch, or a base given here", d.From)
		}
		base = &Base{}
	}
	files, err := d.Files(context)
	if err != nil {
		return nil, err
	}
	files = append(append([]File(nil), base.Files...), files...)
	for _, args := range d.Runs {
		if base.Run == nil {
			return nil, fmt.Errorf("RUN %q: not supported on this base", args)
		}
		added, err := base.Run(args)
		if err != nil {
			return nil, fmt.Errorf("RUN %q: %w", args, err)
		}
		files = append(files, added...)
	}
	return Image(Spec{
		Platform:   platform,
		Files:      files,
		User:       base.User,
		Entrypoint: d.Entrypoint,
		Cmd:        d.Cmd,
		Env:        base.Env,
		Labels:     d.Labels,
	})
}

// OpmBase is what the catalog image takes from the opm image it is built FROM, as built here: static binaries of
// opm and grpc_health_probe (which OLM's catalog pods run as their probes), linux/amd64.
type OpmBase struct {
	Opm, HealthProbe string
	// ServeCache is the folder of opm's serve cache for the catalog, made by hack/tools/operator-sdk/servecache.
	ServeCache string
}

// opmUID is the user of the opm image (operator-registry's release Dockerfile: USER 1001, group root).
const opmUID = 1001

// base is what the opm image is made of: opm, grpc_health_probe and an nsswitch.conf, as in operator-registry's
// release image, and a /tmp; its user and PATH.
func (o OpmBase) base() *Base {
	return &Base{
		Files: []File{
			{Path: "/bin/opm", Source: o.Opm, Mode: 0o755},
			{Path: "/bin/grpc_health_probe", Source: o.HealthProbe, Mode: 0o755},
			{Path: "/etc/nsswitch.conf", Data: []byte("hosts: files dns\n"), Mode: 0o644},
			tmp,
		},
		User: strconv.Itoa(opmUID),
		Env:  []string{"PATH=/bin"},
	}
}

// Opm returns the opm image itself (entrypoint /bin/opm): what OLM runs to unpack bundle images.
func Opm(platform v1.Platform, o OpmBase) (v1.Image, error) {
	b := o.base()
	return Image(Spec{Platform: platform, Files: b.Files, User: b.User, Env: b.Env, Entrypoint: []string{"/bin/opm"}})
}

// Catalog returns the catalog image of catalogDockerfile: the file-based catalog it copies, served by opm from
// /bin/opm with grpc_health_probe beside it, as in the opm image. Its one RUN must be opm's cache step
// (`opm serve <configs> --cache-dir=<dir> --cache-only`), whose result is o.ServeCache: the same cache in opm's
// JSON format, which (unlike the default format, whose files differ from run to run) keeps the image reproducible.
func Catalog(d Dockerfile, context string, platform v1.Platform, o OpmBase) (v1.Image, error) {
	b := o.base()
	b.Run = func(args []string) ([]File, error) {
		cacheDir, err := opmCacheDir(args)
		if err != nil {
			return nil, err
		}
		// As the RUN leaves them: opm's own modes (0640, folders 0750), owned by the image's user, which opm's
		// digest of the cache covers and the catalog pod's user must read.
		return OwnedTree(o.ServeCache, cacheDir, opmUID, 0)
	}
	return FromDockerfile(d, context, platform, b)
}

// opmCacheDir returns the cache folder of `/bin/opm serve <configs> --cache-dir=<dir> --cache-only`, the only
// command the catalog image runs at build time.
func opmCacheDir(args []string) (string, error) {
	if len(args) != 5 || args[0] != "/bin/opm" || args[1] != "serve" || args[4] != "--cache-only" ||
		!strings.HasPrefix(args[3], "--cache-dir=") {
		return "", fmt.Errorf("only opm's cache step runs here: /bin/opm serve <configs> --cache-dir=<dir> --cache-only")
	}
	return strings.TrimPrefix(args[3], "--cache-dir="), nil
}

// Bundle annotations (bundle/metadata/annotations.yaml) that say where a bundle image holds its parts.
const (
	bundleManifestsLabel = "operators.operatorframework.io.bundle.manifests.v1"
	bundleMetadataLabel  = "operators.operatorframework.io.bundle.metadata.v1"
	bundleTestsLabel     = "operators.operatorframework.io.test.config.v1"
)

// Bundle returns the bundle image of the bundle folder dir (manifests/, metadata/ and, when there,
// tests/scorecard/): its annotations (metadata/annotations.yaml, what OLM reads) become its labels, and each part
// goes where they say, as `operator-sdk generate bundle` writes bundle.Dockerfile from the same annotations.
func Bundle(dir string, platform v1.Platform) (v1.Image, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "metadata", "annotations.yaml"))
	if err != nil {
		return nil, err
	}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(raw, &meta); err != nil {
		return nil, fmt.Errorf("%s/metadata/annotations.yaml: %w", dir, err)
	}
	var files []File
	for part, label := range map[string]string{"manifests": bundleManifestsLabel, "metadata": bundleMetadataLabel,
		"tests/scorecard": bundleTestsLabel} {
		at, ok := meta.Annotations[label]
		if !ok {
			if part == "tests/scorecard" {
				continue // Optional: bundles without scorecard tests.
			}
			return nil, fmt.Errorf("%s/metadata/annotations.yaml: no %s", dir, label)
		}
		tree, err := Tree(filepath.Join(dir, filepath.FromSlash(part)), "/"+at)
		if err != nil {
			return nil, err
		}
		files = append(files, tree...)
	}
	return Image(Spec{Platform: platform, Files: files, Labels: meta.Annotations})
}
