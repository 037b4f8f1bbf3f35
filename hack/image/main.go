// Command image builds the operator's OCI images without a container engine (hack/image/ociimage), writes each to
// an OCI image layout and, with -push, to a registry, and prints the digest. It is a module of its own
// (hack/image/go.mod): the Makefile builds it into bin/run/image (go -C hack/image build -o ../../bin/run/image .)
// and runs it from the checkout's root, as here:
//
//	bin/run/image operator -out bin/images/operator -tag v0.3.0 -binary amd64=bin/image/manager-linux-amd64 \
//	    -label org.opencontainers.image.version=0.3.0 [-push localhost:5000/configmapsync-operator:v0.3.0]
//	bin/run/image bundle -dir bundle -out bin/images/bundle -tag v0.3.0 [-push REF]
//	bin/run/image catalog -dockerfile catalog.Dockerfile -opm bin/image/opm -health-probe bin/image/grpc_health_probe \
//	    -serve-cache bin/image/serve-cache -out bin/images/catalog -tag v0.3.0 [-push REF]
//
// and renders the file-based catalog from its template and the bundle images (see render.go):
//
//	bin/run/image render -opm bin/opm -template catalog-template.yaml -repo quay.io/org/name-bundle \
//	    -migrate-level bundle-object-to-csv-metadata -bundle v0.1.0=tests/testdata/bundle-0.1.0 -bundle v0.3.0=bundle
//
// and serves a registry in memory on loopback to push them to (`make registry`):
//
//	bin/run/image registry -addr 127.0.0.1:5000
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
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
		return fmt.Errorf("usage: image operator|bundle|catalog|render|registry [flags]")
	}
	kind := args[0]
	switch kind {
	case "render":
		return render(args[1:])
	case "registry":
		return registryCommand(args[1:])
	}
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	var binaries, labels pairs
	out := fs.String("out", "", "OCI image layout folder to write (replaced).")
	tag := fs.String("tag", "latest", "Tag recorded in the layout.")
	push := fs.String("push", "", "Registry reference to push to, e.g. localhost:5000/name:tag (plain HTTP on loopback).")
	dir := fs.String("dir", "bundle", "Bundle folder (manifests/, metadata/, tests/scorecard/) of the bundle image.")
	dockerfile := fs.String("dockerfile", "catalog.Dockerfile", "Dockerfile describing the catalog image.")
	context := fs.String("context", ".", "Build context of the Dockerfile.")
	var base ociimage.OpmBase
	fs.StringVar(&base.Opm, "opm", "", "Static opm binary for the catalog image (linux/amd64).")
	fs.StringVar(&base.HealthProbe, "health-probe", "", "Static grpc_health_probe binary for the catalog image.")
	fs.StringVar(&base.ServeCache, "serve-cache", "", "opm's serve cache of the catalog (hack/tools/operator-sdk/servecache).")
	fs.Var(&binaries, "binary", "ARCH=path of a static manager binary; repeat for each architecture (operator).")
	fs.Var(&labels, "label", "KEY=VALUE label of the operator image; repeatable.")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-out is required")
	}
	var artifact any
	var err error
	switch kind {
	case "operator":
		artifact, err = operator(binaries, labels)
	case "bundle":
		artifact, err = ociimage.Bundle(*dir, linuxAMD64)
	case "catalog":
		artifact, err = catalog(*dockerfile, *context, base)
	default:
		err = fmt.Errorf("unknown image %q: operator, bundle or catalog", kind)
	}
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

// catalog builds the catalog image of dockerfile on the opm base made here.
func catalog(dockerfile, context string, base ociimage.OpmBase) (v1.Image, error) {
	if base.Opm == "" || base.HealthProbe == "" || base.ServeCache == "" {
		return nil, fmt.Errorf("-opm, -health-probe and -serve-cache are required for the catalog image")
	}
	d, err := ociimage.ParseDockerfile(dockerfile)
	if err != nil {
		return nil, err
	}
	return ociimage.Catalog(d, context, linuxAMD64, base)
}

// operator builds one image per architecture, as an index.
func operator(binaries, labels pairs) (v1.ImageIndex, error) {
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
