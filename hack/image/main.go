// Command image builds the operator's OCI images without a container engine (internal/ociimage), writes each to
// an OCI image layout and, with -push, to a registry, and prints the digest.
//
//	go run ./hack/image operator -out bin/images/operator -tag v0.3.0 -binary amd64=bin/image/manager-linux-amd64 \
//	    -label org.opencontainers.image.version=0.3.0 [-push localhost:5000/configmapsync-operator:v0.3.0]
//	go run ./hack/image bundle -dockerfile bundle.Dockerfile -out bin/images/bundle -tag v0.3.0 [-push REF]
//	go run ./hack/image catalog -dockerfile catalog.Dockerfile -opm bin/image/opm-linux-amd64 -out ... [-push REF]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/configmapsync/configmapsync-operator/internal/ociimage"
)

// pairs is a repeatable key=value flag.
type pairs []string

func (p *pairs) String() string     { return strings.Join(*p, ",") }
func (p *pairs) Set(v string) error { *p = append(*p, v); return nil }

func (p pairs) split() (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range p {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: image operator|bundle|catalog [flags]")
	}
	kind := args[0]
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	var binaries, labels pairs
	out := fs.String("out", "", "OCI image layout folder to write (replaced).")
	tag := fs.String("tag", "latest", "Tag recorded in the layout.")
	push := fs.String("push", "", "Registry reference to push to, e.g. localhost:5000/name:tag (plain HTTP on loopback).")
	dockerfile := fs.String("dockerfile", "", "Dockerfile describing the bundle or catalog image.")
	context := fs.String("context", ".", "Build context of the Dockerfile.")
	opm := fs.String("opm", "", "Static opm binary for the catalog image (linux/amd64).")
	fs.Var(&binaries, "binary", "ARCH=path of a static manager binary; repeat for each architecture (operator).")
	fs.Var(&labels, "label", "KEY=VALUE label of the operator image; repeatable.")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	artifact, err := build(kind, binaries, labels, *dockerfile, *context, *opm)
	if err != nil {
		return err
	}
	if err := ociimage.WriteLayout(*out, *tag, artifact); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	digest, err := ociimage.Digest(artifact)
	if err != nil {
		return err
	}
	if *push != "" {
		if digest, err = ociimage.Push(*push, artifact); err != nil {
			return fmt.Errorf("pushing %s: %w", *push, err)
		}
	}
	fmt.Println(digest)
	return nil
}

var linuxAMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func build(kind string, binaries, labels pairs, dockerfile, context, opm string) (any, error) {
	switch kind {
	case "operator":
		return operator(binaries, labels)
	case "bundle", "catalog":
		d, err := ociimage.ParseDockerfile(dockerfile)
		if err != nil {
			return nil, err
		}
		if kind == "bundle" {
			return ociimage.FromDockerfile(d, context, linuxAMD64, nil)
		}
		if opm == "" {
			return nil, fmt.Errorf("-opm is required for the catalog image")
		}
		return ociimage.Catalog(d, context, linuxAMD64, opm)
	}
	return nil, fmt.Errorf("unknown image %q: operator, bundle or catalog", kind)
}

// operator builds one image per architecture, as an index.
func operator(binaries, labels pairs) (any, error) {
	paths, err := binaries.split()
	if err != nil {
		return nil, err
	}
	lbls, err := labels.split()
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("-binary ARCH=path is required")
	}
	var images []v1.Image
	for _, arch := range []string{"amd64", "arm64", "ppc64le", "s390x"} {
		if path, ok := paths[arch]; ok {
			img, err := ociimage.Operator(v1.Platform{OS: "linux", Architecture: arch}, path, lbls)
			if err != nil {
				return nil, err
			}
			images = append(images, img)
			delete(paths, arch)
		}
	}
	if len(paths) > 0 {
		return nil, fmt.Errorf("unsupported architectures: %v", paths)
	}
	return ociimage.Index(images...)
}
