package v1

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reasonConstants returns the names and values of the condition reasons this package declares (Reason*).
func reasonConstants(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	out := map[string]string{}
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range spec.Names {
				if strings.HasPrefix(name.Name, "Reason") && i < len(spec.Values) {
					if lit, ok := spec.Values[i].(*ast.BasicLit); ok {
						out[name.Name] = strings.Trim(lit.Value, `"`)
					}
				}
			}
			return true
		})
	}
	require.NotEmpty(t, out)
	return out
}

func TestEveryReasonIsSetByTheOperator(t *testing.T) {
	used := map[string]bool{}
	for _, dir := range []string{"controllers", "internal"} {
		err := filepath.WalkDir(filepath.Join("..", "..", dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			return usedIdentifiers(path, used)
		})
		require.NoError(t, err)
	}
	for name := range reasonConstants(t) {
		assert.True(t, used[name], "%s is declared but never used in the operator's code: delete it, or set it", name)
	}
}

// apiImportPath is this package's import path, which the operator's code refers to its constants through.
const apiImportPath = "github.com/configmapsync/configmapsync-operator/api/v1"

// usedIdentifiers adds to used the names of this package's identifiers that the Go file at path refers to in its
// code (as <local name of this package>.Name): in syntax, so that a name in a comment or a string does not count.
func usedIdentifiers(path string, used map[string]bool) error {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return err
	}
	local := ""
	for _, spec := range file.Imports {
		if strings.Trim(spec.Path.Value, `"`) != apiImportPath {
			continue
		}
		local = "v1"
		if spec.Name != nil {
			local = spec.Name.Name
		}
	}
	if local == "" {
		return nil
	}
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
				used[sel.Sel.Name] = true
			}
		}
		return true
	})
	return nil
}

func TestTheREADMEConditionTableListsExactlyTheReasons(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	readme := string(raw)
	start, end := strings.Index(readme, "<!-- conditions-table -->"), strings.Index(readme, "<!-- /conditions-table -->")
	require.True(t, start >= 0 && end > start, "the README has no conditions table between its markers")

	var listed []string
	cell := regexp.MustCompile("^(Ready|Stalled|Deleting|KeysMatched) `([A-Za-z]+)`")
	for _, row := range strings.Split(readme[start:end], "\n") {
		cols := strings.Split(row, "|")
		if len(cols) < 3 {
			continue
		}
		if m := cell.FindStringSubmatch(strings.TrimSpace(cols[2])); m != nil {
			listed = append(listed, m[2])
		}
	}
	reasons := reasonConstants(t)
	declared := make([]string, 0, len(reasons))
	for _, value := range reasons {
		declared = append(declared, value)
	}
	slices.Sort(listed)
	slices.Sort(declared)
	assert.Equal(t, declared, listed, "the README's conditions table and the Reason constants of api/v1 differ")
}
