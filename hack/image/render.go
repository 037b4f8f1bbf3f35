package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
)

// render renders the catalog template -template (schema olm.template.basic) with `opm alpha render-template basic`,
// as release pipelines render a catalog from bundle images. Each olm.bundle of the template names its image by tag,
// and -bundle TAG=DIR says which folder that release's bundle image is built from. The images are built here
// (reproducible: the digest depends only on the folder) and served to opm from a registry on loopback by digest; the
// references opm records are then renamed from the loopback registry to -repo, where `make bundle-image IMAGE_PUSH=1`
// pushes the same bytes under the same digest. So every bundle of the catalog names its image by digest.
func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	opm := fs.String("opm", "", "opm binary.")
	templatePath := fs.String("template", "", "Catalog template (schema olm.template.basic) naming each bundle image by tag.")
	repo := fs.String("repo", "", "Repository the bundle images are published in, e.g. quay.io/org/name-bundle.")
	migrateLevel := fs.String("migrate-level", "", "opm's --migrate-level, e.g. bundle-object-to-csv-metadata.")
	var bundles pairs
	fs.Var(&bundles, "bundle", "TAG=DIR: the bundle folder of the template's bundle image tagged TAG; repeat for each.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *opm == "" || *templatePath == "" || *repo == "" || len(bundles) == 0 {
		return errors.New("-opm, -template, -repo and at least one -bundle are required")
	}
	dirs, err := bundles.split()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*templatePath)
	if err != nil {
		return err
	}
	var template map[string]any
	if err := yaml.Unmarshal(data, &template); err != nil {
		return fmt.Errorf("%s: %w", *templatePath, err)
	}
	addr, stop, err := ociimage.ServeRegistry("127.0.0.1:0")
	if err != nil {
		return err
	}
	defer stop()
	local := addr + "/" + path.Base(*repo)
	if err := pinBundles(template, dirs, local); err != nil {
		return fmt.Errorf("%s: %w", *templatePath, err)
	}
	home, err := opmHome()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(home) }()
	pinned, err := json.Marshal(template)
	if err != nil {
		return err
	}
	file := filepath.Join(home, "template.json")
	if err := os.WriteFile(file, pinned, 0o600); err != nil {
		return err
	}
	opmArgs := []string{"alpha", "render-template", "basic", file, "--use-http", "--output", "yaml"}
	if *migrateLevel != "" {
		opmArgs = append(opmArgs, "--migrate-level", *migrateLevel)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(*opm, opmArgs...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("opm alpha render-template basic %s: %w\n%s", *templatePath, err, stderr.String())
	}
	fmt.Print(strings.ReplaceAll(stdout.String(), local+"@", *repo+"@"))
	return nil
}

// pinBundles replaces the image of each olm.bundle entry of template, named by tag, with the digest reference in
// the repository local of the bundle image built from the folder dirs has for that tag (pushed there), so that opm
// renders exactly those bytes. Every bundle needs a folder, and every folder a bundle.
func pinBundles(template map[string]any, dirs map[string]string, local string) error {
	entries, _ := template["entries"].([]any)
	used := map[string]bool{}
	for _, e := range entries {
		entry, _ := e.(map[string]any)
		if entry["schema"] != "olm.bundle" {
			continue
		}
		image, _ := entry["image"].(string)
		_, tag, ok := strings.Cut(path.Base(image), ":")
		if !ok || strings.Contains(image, "@") {
			return fmt.Errorf("bundle image %q: name it by tag", image)
		}
		dir, ok := dirs[tag]
		if !ok {
			return fmt.Errorf("bundle image %q: no -bundle %s=DIR", image, tag)
		}
		used[tag] = true
		ref, err := pushBundle(dir, local)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		entry["image"] = ref
	}
	for tag, dir := range dirs {
		if !used[tag] {
			return fmt.Errorf("-bundle %s=%s: no olm.bundle image with tag %s", tag, dir, tag)
		}
	}
	return nil
}

// pushBundle builds the bundle image of dir, pushes it to the repository local by digest and returns that reference.
func pushBundle(dir, local string) (string, error) {
	img, err := ociimage.Bundle(dir, linuxAMD64)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := local + "@" + digest.String()
	_, err = ociimage.Push(ref, img)
	return ref, err
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
