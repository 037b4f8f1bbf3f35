package ociimage

import (
	"fmt"

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

// FromDockerfile builds the image a Dockerfile of the supported subset describes, for one platform, from the
// build context dir. Its FROM must be "scratch", unless base gives the files that stand in for the base image
// (the catalog's opm image, whose opm is built here).
func FromDockerfile(d Dockerfile, context string, platform v1.Platform, base []File) (v1.Image, error) {
	if d.From != "scratch" && base == nil {
		return nil, fmt.Errorf("FROM %s: only scratch, or a base given as files", d.From)
	}
	files, err := d.Files(context)
	if err != nil {
		return nil, err
	}
	return Image(Spec{
		Platform:   platform,
		Files:      append(append([]File(nil), base...), files...),
		Entrypoint: d.Entrypoint,
		Cmd:        d.Cmd,
		Labels:     d.Labels,
	})
}

// Catalog returns the catalog image of catalogDockerfile: the file-based catalog it copies, served by opm (the
// static binary at opmBinary, in place of the opm base image) from /bin/opm, with a /tmp for opm's cache.
func Catalog(d Dockerfile, context string, platform v1.Platform, opmBinary string) (v1.Image, error) {
	return FromDockerfile(d, context, platform, []File{{Path: "/bin/opm", Source: opmBinary, Mode: 0o755}, tmp})
}
