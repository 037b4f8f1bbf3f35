package ociimage

import (
	"fmt"
	"net"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// WriteLayout replaces the OCI image layout at dir with one holding a, tagged tag.
func WriteLayout(dir, tag string, a any) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	annotations := layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})
	switch a := a.(type) {
	case v1.Image:
		return p.AppendImage(a, annotations)
	case v1.ImageIndex:
		return p.AppendIndex(a, annotations)
	}
	return fmt.Errorf("%T is neither an image nor an index", a)
}

// ReadLayout returns the image or index that WriteLayout wrote at dir.
func ReadLayout(dir string) (any, error) {
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	manifest, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(manifest.Manifests) != 1 {
		return nil, fmt.Errorf("%s holds %d manifests, not one", dir, len(manifest.Manifests))
	}
	desc := manifest.Manifests[0]
	if desc.MediaType.IsIndex() {
		return index.ImageIndex(desc.Digest)
	}
	return index.Image(desc.Digest)
}

// Push pushes a to the registry reference ref (a tag), over plain HTTP when the registry is on loopback, with the
// credentials of the Docker config (~/.docker/config.json, as `docker login` leaves them), and returns the digest
// it is stored under.
func Push(ref string, a any) (v1.Hash, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	auth := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	switch a := a.(type) {
	case v1.Image:
		err = remote.Write(r, a, auth)
	case v1.ImageIndex:
		err = remote.WriteIndex(r, a, auth)
	default:
		return v1.Hash{}, fmt.Errorf("%T is neither an image nor an index", a)
	}
	if err != nil {
		return v1.Hash{}, err
	}
	return Digest(a)
}

// Digest returns the digest of an image or an image index.
func Digest(a any) (v1.Hash, error) {
	if d, ok := a.(interface{ Digest() (v1.Hash, error) }); ok {
		return d.Digest()
	}
	return v1.Hash{}, fmt.Errorf("%T is neither an image nor an index", a)
}

// ParseReference parses an image reference; registries on loopback are reached over plain HTTP.
func ParseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if isLoopback(r.Context().RegistryStr()) {
		return name.ParseReference(ref, name.Insecure)
	}
	return r, nil
}

func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		host = hostPort
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
