package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// ---------------------------------------------------------------------------------------------------------------
// 3. bundle.Dockerfile

// dockerfileInstructions returns the instructions of a Dockerfile with continuation lines joined and comments dropped.
func dockerfileInstructions(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func dockerfileLabels(t *testing.T, instructions []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, ins := range instructions {
		keyword, rest, _ := strings.Cut(ins, " ")
		if !strings.EqualFold(keyword, "LABEL") {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, "LABEL %q is not key=value", kv)
			k, v = strings.Trim(k, `"`), strings.Trim(v, `"`)
			_, dup := got[k]
			assert.False(t, dup, "LABEL %s is set twice", k)
			got[k] = v
		}
	}
	return got
}

func TestBundleDockerfileLabelsMatchAnnotations(t *testing.T) {
	ann := readAnnotations(t)
	got := dockerfileLabels(t, dockerfileInstructions(t, filepath.Join(harness.RepoRoot, "bundle.Dockerfile")))
	require.NotEmpty(t, got, "bundle.Dockerfile has no LABELs")
	for k, v := range ann {
		lv, ok := got[k]
		if assert.True(t, ok, "annotation %s is not a LABEL of bundle.Dockerfile", k) {
			assert.Equal(t, v, lv, "LABEL %s", k)
		}
	}
	for k := range got {
		_, ok := ann[k]
		assert.True(t, ok, "LABEL %s of bundle.Dockerfile is not in metadata/annotations.yaml", k)
	}
}

func TestBundleDockerfileCopiesTheBundle(t *testing.T) {
	ins := dockerfileInstructions(t, filepath.Join(harness.RepoRoot, "bundle.Dockerfile"))
	require.NotEmpty(t, ins)
	assert.Equal(t, "FROM scratch", ins[0], "a bundle image holds only the bundle")
	ann := readAnnotations(t)
	for _, want := range []string{
		"COPY bundle/manifests /" + ann["operators.operatorframework.io.bundle.manifests.v1"],
		"COPY bundle/metadata /" + ann["operators.operatorframework.io.bundle.metadata.v1"],
		"COPY bundle/tests/scorecard /" + ann["operators.operatorframework.io.test.config.v1"],
	} {
		assert.Contains(t, ins, want)
	}
}
