// Command servecache builds the cache that `opm serve <configs> --cache-dir=<dir> --cache-only` builds, with opm's
// own cache package, in opm's JSON format: `opm serve` finds it, checks its digest against the catalog and serves
// from it. opm itself writes its default (pogreb) format, whose files differ from run to run for the same catalog;
// the JSON format is the same bytes every time, so the catalog image that carries the cache stays reproducible.
//
// Usage: servecache <configs-dir> <cache-dir>
package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/operator-framework/operator-registry/pkg/cache"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: servecache <configs-dir> <cache-dir>")
		os.Exit(2)
	}
	if err := build(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "servecache:", err)
		os.Exit(1)
	}
}

// build writes the serve cache of the file-based catalog in configs into cacheDir (replaced).
func build(configs, cacheDir string) error {
	if err := os.RemoveAll(cacheDir); err != nil {
		return err
	}
	// opm's digest of the cache covers the catalog's file modes: compute it over the catalog as the image holds it.
	asInImage, err := os.MkdirTemp("", "servecache-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(asInImage) }()
	if err := copyAsInImage(configs, asInImage); err != nil {
		return err
	}
	c, err := cache.New(cacheDir, cache.WithFormat("json"))
	if err != nil {
		return err
	}
	if err := cache.LoadOrRebuild(context.Background(), c, os.DirFS(asInImage)); err != nil {
		return err
	}
	return c.Close()
}

// copyAsInImage copies the folder src into dst with the modes the image gives them (hack/image/ociimage.Tree:
// files 0644, folders 0755), whatever the umask of the checkout made them.
func copyAsInImage(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, 0o755)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, raw, 0o644); err != nil {
			return err
		}
		return os.Chmod(target, 0o644)
	})
}
