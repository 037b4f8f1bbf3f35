package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSoftMemoryLimit(t *testing.T) {
	limit, ok := softMemoryLimit("268435456", "")
	assert.True(t, ok)
	assert.Equal(t, int64(241591910), limit, "90 % of 256 MiB")

	for _, tc := range []struct{ container, goMemLimit string }{
		{"", ""},                // no limit
		{"268435456", "100MiB"}, // GOMEMLIMIT set by the user wins
		{"not-a-number", ""},    // malformed
		{"0", ""},               // no limit either
	} {
		_, ok := softMemoryLimit(tc.container, tc.goMemLimit)
		assert.False(t, ok, "%+v", tc)
	}
}

// layoutDoc is where the Layout table lives: development material, out of the users' README.
var layoutDoc = filepath.Join("docs", "development.md")

// layoutPaths returns the paths the Layout table of docs/development.md names in its first column.
func layoutPaths(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(layoutDoc)
	require.NoError(t, err)
	doc := string(raw)
	start := strings.Index(doc, "\n## Layout\n")
	require.GreaterOrEqual(t, start, 0, "%s has no Layout section", layoutDoc)
	section := doc[start+1:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var paths []string
	for _, row := range strings.Split(section, "\n") {
		cols := strings.Split(row, "|")
		if len(cols) < 3 {
			continue
		}
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cols[1], -1) {
			paths = append(paths, m[1])
		}
	}
	require.NotEmpty(t, paths)
	return paths
}

func TestTheLayoutTableMatchesTheTree(t *testing.T) {
	listed := layoutPaths(t)
	for _, p := range listed {
		_, err := os.Stat(p)
		assert.NoError(t, err, "the Layout of %s names %s, which does not exist", layoutDoc, p)
	}
	// Every package folder under controllers/ and internal/ and every suite under tests/ has its row.
	for _, parent := range []string{"controllers", "internal", "tests"} {
		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() {
				dir := parent + "/" + e.Name() + "/"
				assert.Contains(t, listed, dir, "the Layout of %s has no row for %s", layoutDoc, dir)
			}
		}
	}
}

func TestTheArchitectureDocNamesOnlyPathsThatExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("docs", "architecture.md"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile("`((?:api|controllers|internal|tests|docs)/[^`*]*)`").FindAllStringSubmatch(string(raw), -1) {
		_, err := os.Stat(m[1])
		assert.NoError(t, err, "docs/architecture.md names %s, which does not exist", m[1])
	}
}

// testOnlyPackages are the packages of the module the binary must not link: test support, imported by tests only.
var testOnlyPackages = []string{"github.com/configmapsync/configmapsync-operator/internal/testkit"}

// TestTheBinaryLinksEveryPackageButTheTestKit keeps tooling apart from shipped code: a package the binary does not
// link is test support and must be listed above, and the binary must not link test support.
func TestTheBinaryLinksEveryPackageButTheTestKit(t *testing.T) {
	goList := func(args ...string) []string {
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		require.NoError(t, err, "go list %v", args)
		return strings.Fields(string(out))
	}
	linked := goList("-deps", ".")
	var notLinked []string
	for _, pkg := range goList("./...") {
		if !slices.Contains(linked, pkg) {
			notLinked = append(notLinked, pkg)
		}
	}
	assert.ElementsMatch(t, testOnlyPackages, notLinked, "packages of the module the binary does not link")
}
