package configmapsync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// sourceAt returns a source ConfigMap of size bytes at resourceVersion, its key and its content.
func sourceAt(t *testing.T, name, resourceVersion string, size int) (copyKey, *corev1.ConfigMap, syncer.Content) {
	t.Helper()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, ResourceVersion: resourceVersion},
		Data:       map[string]string{"key": strings.Repeat("x", size)},
	}
	content, err := syncer.ContentOf(cm)
	require.NoError(t, err)
	return copyKey{kind: syncer.KindConfigMap, NamespacedName: types.NamespacedName{Namespace: "team-a", Name: name}}, cm, content
}

func TestSourceCacheKeepsAnUnchangedSourceUntilTheWatchShowsANewerOne(t *testing.T) {
	s := newSourceCache(1<<10, 4<<10)
	key, cm, content := sourceAt(t, "settings", "10", 100)
	s.saw(key, "10", true)
	s.put(key, cm, content)
	got, gotContent, ok := s.get(key)
	require.True(t, ok)
	assert.Same(t, cm, got)
	assert.Equal(t, content.Hash(), gotContent.Hash())

	s.saw(key, "10", true)
	_, _, ok = s.get(key)
	assert.True(t, ok, "the same version again (a relist) keeps it")
	s.saw(key, "11", true)
	_, _, ok = s.get(key)
	assert.False(t, ok, "a newer version drops it")
}

func TestSourceCacheDoesNotKeepAReadOlderThanTheWatch(t *testing.T) {
	s := newSourceCache(1<<10, 4<<10)
	key, cm, content := sourceAt(t, "settings", "10", 100)
	s.saw(key, "11", true) // The change arrived while the sync was reading version 10.
	s.put(key, cm, content)
	_, _, ok := s.get(key)
	assert.False(t, ok)
}

func TestSourceCacheForgetsWhatNoSyncWatches(t *testing.T) {
	s := newSourceCache(1<<10, 4<<10)
	key, cm, content := sourceAt(t, "settings", "10", 100)
	s.put(key, cm, content)
	s.saw(key, "10", false)
	_, _, ok := s.get(key)
	assert.False(t, ok)
	assert.Empty(t, s.latest)
}

func TestSourceCacheBoundsMemory(t *testing.T) {
	s := newSourceCache(1<<10, 2<<10)
	big, cm, content := sourceAt(t, "ca-bundle", "1", 2<<10)
	s.put(big, cm, content)
	_, _, ok := s.get(big)
	assert.False(t, ok, "a source larger than maxEntry is read when needed, never kept")

	a, cmA, contentA := sourceAt(t, "a", "1", 1000)
	b, cmB, contentB := sourceAt(t, "b", "1", 1000)
	c, cmC, contentC := sourceAt(t, "c", "1", 1000)
	s.put(a, cmA, contentA)
	s.put(b, cmB, contentB)
	_, _, _ = s.get(a) // a is now the most recently used.
	s.put(c, cmC, contentC)
	_, _, okA := s.get(a)
	_, _, okB := s.get(b)
	_, _, okC := s.get(c)
	assert.True(t, okA)
	assert.False(t, okB, "the least recently used goes first")
	assert.True(t, okC)
	assert.LessOrEqual(t, s.bytes, 2<<10)
}

func TestSourceCacheNilKeepsNothing(t *testing.T) {
	var s *sourceCache
	key, cm, content := sourceAt(t, "settings", "10", 100)
	s.put(key, cm, content)
	s.saw(key, "10", true)
	_, _, ok := s.get(key)
	assert.False(t, ok)
}
