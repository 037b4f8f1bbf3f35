// Package ociimage builds OCI images without a container engine, reproducibly: the same inputs give the same
// digest (files sorted, owned by fixed users, stamped with a fixed time; the image's creation time fixed too). It
// builds the operator's three images (operator, bundle, catalog) for hack/image and for the tests that check them.
package ociimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the time of every file in every layer and of every image's creation, so that builds are reproducible
// (SOURCE_DATE_EPOCH's convention: the Unix epoch unless told otherwise).
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of a layer: a regular file (Data, or the contents of Source) or, with Dir, a directory.
type File struct {
	// Path is absolute inside the image, e.g. /manager.
	Path string
	// Source is a file on the host whose contents become the file's; Data is used when it is empty.
	Source string
	Data   []byte
	Mode   int64
	Dir    bool
	// UID and GID own the entry (0, root, unless set).
	UID, GID int
}

// Spec describes a single-layer image for one platform.
type Spec struct {
	Platform   v1.Platform
	Files      []File
	User       string
	Entrypoint []string
	Cmd        []string
	WorkingDir string
	Env        []string
	Labels     map[string]string
}

// Image builds the image Spec describes, with OCI media types.
func Image(s Spec) (v1.Image, error) {
	layer, err := Layer(s.Files)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = s.Platform.OS, s.Platform.Architecture, s.Platform.Variant
	cfg.Created = v1.Time{Time: Epoch}
	cfg.History = nil
	cfg.Config = v1.Config{
		User: s.User, Entrypoint: s.Entrypoint, Cmd: s.Cmd, WorkingDir: s.WorkingDir, Env: s.Env, Labels: s.Labels,
	}
	return mutate.ConfigFile(img, cfg)
}

// Index builds an OCI image index of images, one per platform, in the order given.
func Index(images ...v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, img := range images {
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
		}})
	}
	return mutate.AppendManifests(idx, adds...), nil
}

// Layer builds a gzip-compressed OCI layer of files, with the parent directories of every file, sorted by path.
func Layer(files []File) (v1.Layer, error) {
	raw, err := tarOf(files)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
}

func tarOf(files []File) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("%s: paths in an image are absolute", f.Path)
		}
		clean := path.Clean(f.Path)
		for dir := path.Dir(clean); dir != "/"; dir = path.Dir(dir) {
			if _, ok := entries[dir]; !ok {
				entries[dir] = File{Path: dir, Dir: true, Mode: 0o755}
			}
		}
		f.Path = clean
		entries[clean] = f
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range slices.Sorted(maps.Keys(entries)) {
		if err := writeEntry(tw, entries[p]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeEntry(tw *tar.Writer, f File) error {
	hdr := &tar.Header{
		Name: strings.TrimPrefix(f.Path, "/"), Mode: f.Mode, Uid: f.UID, Gid: f.GID,
		ModTime: Epoch, AccessTime: Epoch, ChangeTime: Epoch, Format: tar.FormatPAX,
	}
	if f.Dir {
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		return tw.WriteHeader(hdr)
	}
	data := f.Data
	if f.Source != "" {
		var err error
		if data, err = os.ReadFile(f.Source); err != nil {
			return err
		}
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(data))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// Tree returns the files under the host folder src, placed under dst in the image, read-only for everyone
// (0644, folders 0755), whatever the host's umask made them.
func Tree(src, dst string) ([]File, error) {
	return walk(src, dst, func(d fs.DirEntry) (int64, error) {
		if d.IsDir() {
			return 0o755, nil
		}
		return 0o644, nil
	})
}

// OwnedTree returns the files under the host folder src, placed under dst in the image with their permission
// bits and owned by uid:gid: what a RUN instruction of a Dockerfile leaves when the image's user runs it.
func OwnedTree(src, dst string, uid, gid int) ([]File, error) {
	files, err := walk(src, dst, func(d fs.DirEntry) (int64, error) {
		info, err := d.Info()
		if err != nil {
			return 0, err
		}
		return int64(info.Mode().Perm()), nil
	})
	for i := range files {
		files[i].UID, files[i].GID = uid, gid
	}
	return files, err
}

// walk lists the files and folders under src as image entries under dst, with the modes mode gives.
func walk(src, dst string, mode func(fs.DirEntry) (int64, error)) ([]File, error) {
	var out []File
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return fmt.Errorf("%s: only files and folders go into an image", p)
		}
		m, err := mode(d)
		if err != nil {
			return err
		}
		out = append(out, File{Path: path.Join(dst, filepath.ToSlash(rel)), Source: p, Dir: d.IsDir(), Mode: m})
		return nil
	})
	return out, err
}
