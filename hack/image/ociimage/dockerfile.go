package ociimage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Dockerfile is what a Dockerfile of the subset the operator's bundle and catalog images use says: the base
// image, labels, files copied from the build context, commands run after them, entrypoint and command. Building
// from it (rather than restating it) keeps the images made here and those a container engine makes from the same
// file alike.
type Dockerfile struct {
	From       string
	Labels     map[string]string
	Copies     []Copy
	Runs       [][]string
	Entrypoint []string
	Cmd        []string
}

// Copy is one COPY or ADD of a local path.
type Copy struct{ Src, Dst string }

// ParseDockerfile reads a Dockerfile made of FROM, LABEL, COPY, ADD (local paths), RUN (after every COPY and ADD),
// ENTRYPOINT and CMD (RUN, ENTRYPOINT and CMD in JSON form), comments and blank lines; anything else is an error,
// so that nothing in the file is silently left out.
func ParseDockerfile(file string) (Dockerfile, error) {
	f, err := os.Open(file)
	if err != nil {
		return Dockerfile{}, err
	}
	defer func() { _ = f.Close() }()
	d := Dockerfile{Labels: map[string]string{}}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, args, _ := strings.Cut(line, " ")
		args = strings.TrimSpace(args)
		if err := d.apply(strings.ToUpper(instr), args); err != nil {
			return Dockerfile{}, fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
	return d, sc.Err()
}

func (d *Dockerfile) apply(instr, args string) error {
	switch instr {
	case "FROM":
		d.From = args
	case "LABEL":
		key, value, ok := strings.Cut(args, "=")
		if !ok || strings.ContainsAny(key, " \"") {
			return fmt.Errorf("LABEL %q: one key=value per line", args)
		}
		d.Labels[key] = strings.Trim(value, `"`)
	case "COPY", "ADD":
		f := strings.Fields(args)
		if len(f) != 2 || strings.HasPrefix(f[0], "--") || strings.Contains(f[0], "://") {
			return fmt.Errorf("%s %q: one local source and one destination", instr, args)
		}
		if len(d.Runs) > 0 {
			return fmt.Errorf("%s after RUN: the files a RUN sees must all be in place before it", instr)
		}
		d.Copies = append(d.Copies, Copy{Src: f[0], Dst: f[1]})
	case "RUN", "ENTRYPOINT", "CMD":
		var list []string
		if err := json.Unmarshal([]byte(args), &list); err != nil {
			return fmt.Errorf("%s: the JSON form only: %w", instr, err)
		}
		switch instr {
		case "RUN":
			d.Runs = append(d.Runs, list)
		case "ENTRYPOINT":
			d.Entrypoint = list
		default:
			d.Cmd = list
		}
	default:
		return fmt.Errorf("%s is not supported here", instr)
	}
	return nil
}

// Files returns the files the COPY and ADD instructions put into the image, read from the build context dir.
// A source folder is copied with its contents into the destination folder, as docker does.
func (d Dockerfile) Files(context string) ([]File, error) {
	var out []File
	for _, c := range d.Copies {
		src := filepath.Join(context, filepath.FromSlash(c.Src))
		info, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		if info.IsDir() {
			tree, err := Tree(src, c.Dst)
			if err != nil {
				return nil, err
			}
			out = append(out, tree...)
			continue
		}
		dst := c.Dst
		if strings.HasSuffix(dst, "/") {
			dst = path.Join(dst, filepath.Base(src))
		}
		out = append(out, File{Path: dst, Source: src, Mode: 0o644})
	}
	return out, nil
}
