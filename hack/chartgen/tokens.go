package main

import (
	"fmt"
	"regexp"
	"strings"
)

// tokens turns an object into a Helm template: the templating rules put a token where a template fragment goes
// (as a value, a map key or a list item), the object is marshalled as YAML, and each line holding a token is then
// replaced by its fragment. So the chart is the object exactly as kustomize built it, but for the fragments.
type tokens struct {
	fragments []fragment
}

// A fragment renders the line that holds its token. indent is the line's leading spaces, prefix everything
// before the token ("    replicas: ", "        - ", or the indent alone for a map key).
type fragment func(indent, prefix string) string

// add returns a new token for f: a plain YAML scalar that marshals unquoted.
func (t *tokens) add(f fragment) string {
	t.fragments = append(t.fragments, f)
	return fmt.Sprintf("zzhelm%dzz", len(t.fragments)-1)
}

// tokenLine matches a line holding a token: as a value or list item (nothing after it) or as a map key (an
// empty value after it).
var tokenLine = regexp.MustCompile(`^(\s*)(.*?)zzhelm(\d+)zz(: "")?$`)

// render replaces every token line of yaml with its fragment. Everything else is Helm template text already:
// the caller escapes the "{{" the objects themselves hold.
func (t *tokens) render(yaml string) (string, error) {
	lines := strings.Split(yaml, "\n")
	used := map[int]bool{}
	for i, line := range lines {
		if !strings.Contains(line, "zzhelm") {
			continue
		}
		m := tokenLine.FindStringSubmatch(line)
		if m == nil {
			return "", fmt.Errorf("token in an unexpected place: %q", line)
		}
		var n int
		_, _ = fmt.Sscan(m[3], &n)
		if n >= len(t.fragments) {
			return "", fmt.Errorf("unknown token in %q", line)
		}
		used[n] = true
		lines[i] = t.fragments[n](m[1], m[1]+m[2])
	}
	if len(used) != len(t.fragments) {
		return "", fmt.Errorf("%d of %d tokens placed", len(used), len(t.fragments))
	}
	return strings.Join(lines, "\n"), nil
}

// inline is a fragment that replaces the token by expr on its line: a scalar value.
func inline(expr string) fragment {
	return func(_, prefix string) string { return prefix + expr }
}

// insert is a fragment of whole lines in place of the token's line (a map key or list item token), each indented
// as the token was. Lines of template actions start with "{{-", which trims the line break before them.
func insert(lines ...string) fragment {
	return func(indent, _ string) string {
		out := make([]string, len(lines))
		for i, l := range lines {
			out[i] = indent + l
		}
		return strings.Join(out, "\n")
	}
}

// optionalBlock is a fragment for a map key whose value (a map or list) comes from values: the key is written
// only when the value is set. The token is the key's value.
func optionalBlock(valuesPath string) fragment {
	return func(indent, prefix string) string {
		key := strings.TrimSuffix(strings.TrimSpace(prefix), ":")
		return strings.Join([]string{
			indent + "{{- with " + valuesPath + " }}",
			indent + key + ":",
			fmt.Sprintf("%s  {{- toYaml . | nindent %d }}", indent, len(indent)+2),
			indent + "{{- end }}",
		}, "\n")
	}
}

// blockOr is a fragment for a map key whose value comes from values when set, and is otherwise what the object
// had (fallback, as YAML lines relative to the key's value).
func blockOr(valuesPath string, fallback []string) fragment {
	return func(indent, prefix string) string {
		inner := indent + "  "
		out := []string{prefix[:len(prefix)-1], // "key:" without the space
			inner + "{{- with " + valuesPath + " }}",
			fmt.Sprintf("%s{{- toYaml . | nindent %d }}", inner, len(inner)),
			inner + "{{- else }}"}
		for _, l := range fallback {
			out = append(out, inner+l)
		}
		return strings.Join(append(out, inner+"{{- end }}"), "\n")
	}
}
