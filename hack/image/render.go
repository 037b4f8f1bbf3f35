package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
)

// render prints, for each -bundle folder in order, the olm.bundle that `opm render <image>@<digest>` makes of its
// bundle image, as release pipelines render bundles into a catalog: with the bundle's image and its
// relatedImages. The images are built here (reproducible: the digest depends only on the folder) and served to
// opm from a registry on loopback; the references opm records are then renamed from the loopback registry to
// -repo, where `make bundle-image IMAGE_PUSH=1` pushes the same bytes under the same digest.
func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	opm := fs.String("opm", "", "opm binary.")
	repo := fs.String("repo", "", "Repository the bundle images are published in, e.g. quay.io/org/name-bundle.")
	var bundles pairs
	fs.Var(&bundles, "bundle", "Bundle folder; repeat for each bundle, in the order to print them.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *opm == "" || *repo == "" || len(bundles) == 0 {
		return errors.New("-opm, -repo and at least one -bundle are required")
	}
	addr, stop, err := ociimage.ServeRegistry("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer stop()
	home, err := opmHome()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	local := addr + "/" + path.Base(*repo)
	for _, dir := range bundles {
		out, err := renderBundle(*opm, home, local, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Print(strings.ReplaceAll(out, local+"@", *repo+"@"))
	}
	return nil
}

// renderBundle builds the bundle image of dir, pushes it to the local repository by digest and renders it with
// opm run in home.
func renderBundle(opm, home, local, dir string) (string, error) {
	img, err := ociimage.Bundle(dir, linuxAMD64)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := local + "@" + digest.String()
	if _, err := ociimage.Push(ref, img); err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(opm, "render", ref, "--use-http", "--output", "yaml")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("opm render %s: %w\n%s", ref, err, stderr.String())
	}
	return stdout.String(), nil
}

// opmHome returns a home folder for opm whose containers policy (~/.config/containers/policy.json, without which
// opm pulls nothing) accepts the images: they come from the registry this process runs, and are named by digest.
func opmHome() (string, error) {
	home, err := os.MkdirTemp("", "opm-home-")
	if err != nil {
		return "", err
	}
	dir := filepath.Join(home, ".config", "containers")
	policy := []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	return home, os.WriteFile(filepath.Join(dir, "policy.json"), policy, 0o600)
}

// registryCommand serves an in-memory registry on -addr until interrupted, for pushing the images made here
// (IMAGE_PUSH=1 IMAGE_TAG_BASE=127.0.0.1:5000/...) and pulling them from a local cluster. Its contents live in
// memory and go when it stops.
func registryCommand(args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:5000", "Address to listen on; keep it on loopback: the registry has no authentication.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	served, stop, err := ociimage.ServeRegistry(*addr)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(os.Stderr, "Registry on %s (in memory, plain HTTP); Ctrl-C stops it.\n", served)
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	<-ctx.Done()
	return nil
}
