package configmapsync

import (
	"container/list"
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// sourceCache keeps the sources of syncs, read live, between syncs, as long as the source watch shows that their
// resourceVersion has not moved: the periodic resync of 10,000 ConfigMapSyncs, or 10,000 of them created at once
// from one source, then read it once instead of once per sync. Only small sources are kept (maxEntry), within a
// total budget (maxBytes, least recently used first out), so that a 1 MiB CA bundle is read when needed and not
// retained, and memory does not grow with the sources' sizes.
//
// It is never stale for long: every event of a watched source records its resourceVersion (latest) and drops an
// older entry, and an entry is only stored when no newer version has been seen, so a read that raced with a
// change is not kept. The event also wakes the syncs that copy the source, which then read the new version.
type sourceCache struct {
	maxEntry, maxBytes int

	mu      sync.Mutex
	entries map[copyKey]*list.Element // of *cachedSource, most recently used first
	lru     list.List
	bytes   int
	// latest is the newest resourceVersion the source watch showed for each object some sync watches.
	latest map[copyKey]string
}

type cachedSource struct {
	key     copyKey
	obj     client.Object
	content syncer.Content
}

func newSourceCache(maxEntry, maxBytes int) *sourceCache {
	return &sourceCache{maxEntry: maxEntry, maxBytes: maxBytes, entries: map[copyKey]*list.Element{}, latest: map[copyKey]string{}}
}

// get returns the source under key and its content when they are kept and current.
func (s *sourceCache) get(key copyKey) (client.Object, syncer.Content, bool) {
	if s == nil {
		return nil, syncer.Content{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[key]
	if !ok {
		return nil, syncer.Content{}, false
	}
	s.lru.MoveToFront(e)
	c := e.Value.(*cachedSource)
	return c.obj, c.content, true
}

// put keeps a source just read, unless it is too large or the watch has already shown a newer version.
func (s *sourceCache) put(key copyKey, obj client.Object, content syncer.Content) {
	if s == nil || content.Size() > s.maxEntry {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if newer(s.latest[key], obj.GetResourceVersion()) {
		return
	}
	s.removeLocked(key)
	s.entries[key] = s.lru.PushFront(&cachedSource{key: key, obj: obj, content: content})
	s.bytes += content.Size()
	for s.bytes > s.maxBytes {
		s.removeLocked(s.lru.Back().Value.(*cachedSource).key)
	}
}

// saw is called with every event of a ConfigMap or Secret; watched says whether a sync copies it or waits on it.
func (s *sourceCache) saw(key copyKey, resourceVersion string, watched bool) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !watched {
		delete(s.latest, key)
		s.removeLocked(key)
		return
	}
	if !newer(s.latest[key], resourceVersion) {
		s.latest[key] = resourceVersion
	}
	if e, ok := s.entries[key]; ok && newer(resourceVersion, e.Value.(*cachedSource).obj.GetResourceVersion()) {
		s.removeLocked(key)
	}
}

func (s *sourceCache) removeLocked(key copyKey) {
	if e, ok := s.entries[key]; ok {
		s.bytes -= e.Value.(*cachedSource).content.Size()
		s.lru.Remove(e)
		delete(s.entries, key)
	}
}

// readSource returns a source and its content: kept from an earlier sync when the source watch shows it
// unchanged, else read live. A source whose content cannot be copied is a terminal error.
func (r *Reconciler) readSource(ctx context.Context, key copyKey) (client.Object, syncer.Content, error) {
	if src, content, ok := r.sourceCache.get(key); ok {
		return src, content, nil
	}
	src := syncer.NewObject(key.kind)
	if err := r.APIReader.Get(ctx, key.NamespacedName, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, syncer.Content{}, err
		}
		return nil, syncer.Content{}, fmt.Errorf("reading source %s %s: %w", key.kind, key.NamespacedName, err)
	}
	content, err := syncer.ContentOf(src)
	if err != nil {
		return nil, syncer.Content{}, reconcile.TerminalError(err)
	}
	r.sourceCache.put(key, src, content)
	return src, content, nil
}
