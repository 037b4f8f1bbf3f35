package manifests

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeKeepsOrderAndSkipsEmptyDocuments(t *testing.T) {
	objs, err := Decode([]byte("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# only a comment\n---\n" +
		`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "a"}}` + "\n"))
	require.NoError(t, err)
	require.Len(t, objs, 2)
	assert.Equal(t, "Namespace", objs[0].GetKind())
	assert.Equal(t, "a/b", objs[1].GetNamespace()+"/"+objs[1].GetName())

	_, err = Decode([]byte("kind: [unclosed\n"))
	assert.Error(t, err)
}
