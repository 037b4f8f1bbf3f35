package configmapsync

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
)

// writtenCopies remembers, for the copies this process wrote, the resourceVersion and content hash of its last
// write until the cache has caught up with it. The events of a sync's own writes wake the sync again while the
// cache has seen only some of them: without this, it would write the rest again, each a create answered
// AlreadyExists and then a live read, or an update answered Conflict; for a 1 MiB copy in 1,000 namespaces that
// is gigabytes sent for nothing. Resource versions of one resource are comparable (KEP-5504).
type writtenCopies struct {
	mu sync.Mutex
	m  map[copyKey]writtenCopy
	// swept is when entries older than writtenTTL were last dropped: at most once a minute.
	swept time.Time
}

// writtenTTL bounds how long a write is remembered: the cache catches up within seconds, and a write forgotten too
// early costs at most one more write, never a wrong one.
const writtenTTL = 5 * time.Minute

type copyKey struct {
	kind string
	types.NamespacedName
}

type writtenCopy struct {
	resourceVersion string
	hash            string
	at              time.Time
}

func keyOf(obj client.Object) copyKey {
	return copyKey{kind: lifecycle.KindName(obj), NamespacedName: client.ObjectKeyFromObject(obj)}
}

// record remembers a copy just written (obj as the API server returned it), unless cached (what the cache holds
// now, nil for nothing) already shows this write or a later one: its echo came before the write's answer, and
// observe, which forgets a write once the cache has it, will not be called for it again. Asking the cache under
// the lock observe takes closes the race between the two.
func (w *writtenCopies) record(obj client.Object, cached func() client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key, rv := keyOf(obj), obj.GetResourceVersion()
	if c := cached(); c != nil && !newer(rv, c.GetResourceVersion()) {
		delete(w.m, key)
		return
	}
	if w.m == nil {
		w.m = map[copyKey]writtenCopy{}
	}
	now := time.Now()
	w.m[key] = writtenCopy{resourceVersion: rv, hash: obj.GetAnnotations()[syncv1.ContentHashAnnotation], at: now}
	if now.Sub(w.swept) > time.Minute {
		w.swept = now
		for k, c := range w.m {
			if now.Sub(c.at) > writtenTTL {
				delete(w.m, k)
			}
		}
	}
}

// forget drops what is remembered of a copy (deleted, or its write failed).
func (w *writtenCopies) forget(obj client.Object) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, keyOf(obj))
}

// observe is called with every copy the cache is sent; once the cache holds a copy's last write or anything
// newer, that write no longer needs remembering. It reports whether obj is that write itself: the echo of the
// operator's own write, which tells the sync nothing it does not know.
func (w *writtenCopies) observe(obj client.Object) (echo bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := keyOf(obj)
	written, ok := w.m[key]
	if !ok || newer(written.resourceVersion, obj.GetResourceVersion()) {
		return false
	}
	delete(w.m, key)
	return written.resourceVersion == obj.GetResourceVersion()
}

// holds reports whether this process's last write of desired's copy already holds desired's content and the
// cache (cached, nil when it shows none) has not caught up with that write yet.
func (w *writtenCopies) holds(desired, cached client.Object) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	written, ok := w.m[keyOf(desired)]
	if !ok || written.hash != desired.GetAnnotations()[syncv1.ContentHashAnnotation] {
		return false
	}
	return cached == nil || newer(written.resourceVersion, cached.GetResourceVersion())
}

// newer reports whether resource version a is later than b; malformed versions are taken as not newer.
func newer(a, b string) bool {
	c, err := resourceversion.CompareResourceVersion(a, b)
	return err == nil && c > 0
}

// finalizedTTL is how long a finalized ConfigMapSync's UID is remembered: far longer than a copy written during
// its deletion takes to reach the cache.
const finalizedTTL = 10 * time.Minute

// finalizedUIDs remembers, by name, the UIDs of the ConfigMapSyncs this process cleaned up and released, for
// finalizedTTL.
type finalizedUIDs struct {
	mu sync.Mutex
	m  map[types.NamespacedName]map[types.UID]time.Time
	// pruned is when expired UIDs were last dropped: at most once a minute, not on every deletion, which at
	// 10,000 deletions in 10 minutes would walk the map 10,000 times.
	pruned time.Time
}

func (f *finalizedUIDs) add(key types.NamespacedName, uid types.UID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.m == nil {
		f.m = map[types.NamespacedName]map[types.UID]time.Time{}
	}
	if now.Sub(f.pruned) > time.Minute {
		for k, uids := range f.m {
			for u, at := range uids {
				if now.Sub(at) > finalizedTTL {
					delete(uids, u)
				}
			}
			if len(uids) == 0 {
				delete(f.m, k)
			}
		}
		f.pruned = now
	}
	if f.m[key] == nil {
		f.m[key] = map[types.UID]time.Time{}
	}
	f.m[key][uid] = now
}

// of returns the UIDs the ConfigMapSync named key had when this process finalized it in the last finalizedTTL.
func (f *finalizedUIDs) of(key types.NamespacedName) []types.UID {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []types.UID
	for uid, at := range f.m[key] {
		if time.Since(at) <= finalizedTTL {
			out = append(out, uid)
		}
	}
	return out
}
