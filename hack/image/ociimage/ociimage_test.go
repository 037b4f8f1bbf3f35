package ociimage

import (
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// dockerfile writes a Dockerfile with content into a folder of its own and returns its path.
func dockerfile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "Dockerfile")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestParseDockerfileReadsTheSubsetAndRefusesTheRest(t *testing.T) {
	d, err := ParseDockerfile(dockerfile(t, `# comment
FROM base:1
LABEL a.b=c
ADD catalog /configs
RUN ["/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"]
ENTRYPOINT ["/bin/opm"]
CMD ["serve", "/configs"]
`))
	require.NoError(t, err)
	assert.Equal(t, "base:1", d.From)
	assert.Equal(t, map[string]string{"a.b": "c"}, d.Labels)
	assert.Equal(t, []Copy{{Src: "catalog", Dst: "/configs"}}, d.Copies)
	assert.Equal(t, [][]string{{"/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"}}, d.Runs)
	assert.Equal(t, []string{"/bin/opm"}, d.Entrypoint)

	for name, content := range map[string]string{
		"shell form RUN":      "FROM scratch\nRUN echo hi\n",
		"COPY after a RUN":    "FROM scratch\nRUN [\"/x\"]\nCOPY a /a\n",
		"unknown instruction": "FROM scratch\nUSER 0\n",
		"remote ADD":          "FROM scratch\nADD https://example.com/x /x\n",
	} {
		_, err := ParseDockerfile(dockerfile(t, content))
		assert.Error(t, err, name)
	}
}

func TestFromDockerfileRunsOnlyWhatItsBaseCarriesOut(t *testing.T) {
	d := Dockerfile{From: "scratch", Runs: [][]string{{"/bin/true"}}}
	_, err := FromDockerfile(d, t.TempDir(), amd64, nil)
	require.ErrorContains(t, err, "not supported")

	_, err = Catalog(Dockerfile{From: "opm", Runs: [][]string{{"/bin/opm", "render", "x"}}}, t.TempDir(), amd64, OpmBase{})
	require.ErrorContains(t, err, "only opm's cache step")
}

func TestOwnedTreeKeepsModesAndOwnerTreeNormalises(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(src, "cache"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(src, "cache", "x.json"), []byte("{}"), 0o640))
	require.NoError(t, os.Chmod(filepath.Join(src, "cache"), 0o750)) // Whatever the umask.
	require.NoError(t, os.Chmod(filepath.Join(src, "cache", "x.json"), 0o640))

	owned, err := OwnedTree(src, "/tmp/c", 1001, 0)
	require.NoError(t, err)
	byPath := map[string]File{}
	for _, f := range owned {
		byPath[f.Path] = f
	}
	assert.EqualValues(t, 0o750, byPath["/tmp/c/cache"].Mode)
	assert.EqualValues(t, 0o640, byPath["/tmp/c/cache/x.json"].Mode)
	assert.Equal(t, 1001, byPath["/tmp/c/cache/x.json"].UID)

	plain, err := Tree(src, "/c")
	require.NoError(t, err)
	for _, f := range plain {
		if f.Dir {
			assert.EqualValues(t, 0o755, f.Mode, f.Path)
		} else {
			assert.EqualValues(t, 0o644, f.Mode, f.Path)
		}
		assert.Zero(t, f.UID)
	}
}

func TestReadLayoutGivesBackWhatWriteLayoutWrote(t *testing.T) {
	img, err := Image(Spec{Platform: amd64, User: "1001",
		Files: []File{{Path: "/hello", Data: []byte("hello"), Mode: 0o644}}})
	require.NoError(t, err)
	index, err := Index(img)
	require.NoError(t, err)
	for name, artifact := range map[string]any{"image": img, "index": index} {
		dir := filepath.Join(t.TempDir(), name)
		require.NoError(t, WriteLayout(dir, "v1", artifact))
		read, err := ReadLayout(dir)
		require.NoError(t, err)
		want, err := Digest(artifact)
		require.NoError(t, err)
		got, err := Digest(read)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
		_, isIndex := read.(v1.ImageIndex)
		assert.Equal(t, name == "index", isIndex, name)
	}
}
