//go:build chaos

package chaos

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"reflect"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/ownership"
)

// snapshot is a protected object as it was after setup: its identity, resourceVersion and a digest of its
// content (never the content itself: some are Secrets).
type snapshot struct {
	kind, key, resourceVersion, digest string
}

// snapshotOf reads obj back and records it.
func snapshotOf(ctx context.Context, obj client.Object) (snapshot, error) {
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return snapshot{}, err
	}
	return snapshot{kind: kindOf(obj), key: client.ObjectKeyFromObject(obj).String(),
		resourceVersion: obj.GetResourceVersion(), digest: digestOf(obj)}, nil
}

// kindOf returns "configmaps" or "secrets", the resource names the proxy records.
func kindOf(obj client.Object) string {
	if _, ok := obj.(*corev1.Secret); ok {
		return "secrets"
	}
	return "configmaps"
}

// digestOf hashes an object's content, labels and annotations, so that changes can be told without showing values.
func digestOf(obj client.Object) string {
	h := sha256.New()
	writeContent(h, obj)
	_, _ = fmt.Fprint(h, obj.GetLabels(), obj.GetAnnotations())
	return fmt.Sprintf("%x", h.Sum(nil))[:12]
}

// contentDigest hashes only the content, to show that two objects differ without showing values.
func contentDigest(obj client.Object) string {
	h := sha256.New()
	writeContent(h, obj)
	return fmt.Sprintf("%x", h.Sum(nil))[:12]
}

// writeContent writes what a copy must carry over from its source: data, binary data and a Secret's type.
func writeContent(w io.Writer, obj client.Object) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		_, _ = fmt.Fprint(w, o.Data, o.BinaryData)
	case *corev1.Secret:
		_, _ = fmt.Fprint(w, o.Type, o.Data)
	}
}

// checker holds what the end state is compared with.
type checker struct {
	protected []snapshot
	// deleted are the ConfigMapSyncs the workload deleted.
	deleted []string
}

// isProtected reports whether the object of kind ("configmaps" or "secrets") at key belongs to a user.
func (c *checker) isProtected(kind, key string) bool {
	return slices.ContainsFunc(c.protected, func(s snapshot) bool { return s.kind == kind && s.key == key })
}

// state is what the API server holds at the end.
type state struct {
	syncs      []syncv1.ConfigMapSync
	namespaces []corev1.Namespace
	// copies are every ConfigMap and Secret carrying the operator's managed-by label.
	copies []client.Object
}

// readState lists what the checks need, straight from the API server.
func readState(ctx context.Context) (state, error) {
	var s state
	syncs := &syncv1.ConfigMapSyncList{}
	namespaces := &corev1.NamespaceList{}
	managed := client.MatchingLabels{syncv1.ManagedByLabel: syncv1.ManagedByValue}
	cms, secrets := &corev1.ConfigMapList{}, &corev1.SecretList{}
	for _, list := range []struct {
		obj  client.ObjectList
		opts []client.ListOption
	}{{syncs, nil}, {namespaces, nil}, {cms, []client.ListOption{managed}}, {secrets, []client.ListOption{managed}}} {
		if err := k8s.List(ctx, list.obj, list.opts...); err != nil {
			return s, err
		}
	}
	s.syncs, s.namespaces = syncs.Items, namespaces.Items
	for i := range cms.Items {
		s.copies = append(s.copies, &cms.Items[i])
	}
	for i := range secrets.Items {
		s.copies = append(s.copies, &secrets.Items[i])
	}
	return s, nil
}

// converge checks the end state every second until it holds or the deadline passes, and returns how long it
// took and, when it never held, the failures of the last check.
func (c *checker) converge(ctx context.Context, deadline time.Duration) (time.Duration, []string) {
	start := time.Now()
	var failures []string
	for {
		failures = c.checkState(ctx)
		if len(failures) == 0 || time.Since(start) > deadline {
			return time.Since(start), failures
		}
		time.Sleep(time.Second)
	}
}

// checkState checks the invariants that the operator restores by converging: every live ConfigMapSync is
// synced for its generation with exact copies, no copy outlives its owner, and no deleted ConfigMapSync is
// left behind with its finalizer.
func (c *checker) checkState(ctx context.Context) []string {
	s, err := readState(ctx)
	if err != nil {
		return []string{"reading the end state: " + err.Error()}
	}
	var failures []string
	live := map[string]bool{}
	for i := range s.syncs {
		cms := &s.syncs[i]
		live[string(cms.UID)] = true
		failures = append(failures, c.checkSync(ctx, cms, s)...)
	}
	for _, obj := range s.copies {
		if !live[obj.GetLabels()[syncv1.OwnerUIDLabel]] {
			failures = append(failures, fmt.Sprintf("orphan copy %s %s: owner-uid %q is no live ConfigMapSync",
				kindOf(obj), client.ObjectKeyFromObject(obj), obj.GetLabels()[syncv1.OwnerUIDLabel]))
		}
	}
	for _, name := range c.deleted {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: sourceNS, Name: name}, &syncv1.ConfigMapSync{})
		if !apierrors.IsNotFound(err) {
			failures = append(failures, fmt.Sprintf("deleted ConfigMapSync %s still exists (err=%v)", name, err))
		}
	}
	return failures
}

// checkSync checks one live ConfigMapSync: not stuck deleting, Ready for its generation (or Conflict where a
// user's object is in the way), and exactly one exact copy in each destination it should have, none elsewhere.
func (c *checker) checkSync(ctx context.Context, cms *syncv1.ConfigMapSync, s state) []string {
	name := cms.Namespace + "/" + cms.Name
	if cms.DeletionTimestamp != nil {
		return []string{fmt.Sprintf("ConfigMapSync %s stuck deleting with finalizers %v", name, cms.Finalizers)}
	}
	src, err := readSource(ctx, cms)
	if err != nil {
		return []string{fmt.Sprintf("ConfigMapSync %s: reading its source: %v", name, err)}
	}
	kind := kindOf(src)
	copyName := cms.Spec.Destination.Name
	if copyName == "" {
		copyName = src.GetName()
	}
	var failures []string
	wanted, conflict := map[string]bool{}, false
	for _, ns := range targets(cms, s.namespaces) {
		key := ns + "/" + copyName
		wanted[key] = true
		if c.isProtected(kind, key) {
			conflict = true
			continue
		}
		failures = append(failures, checkCopy(name, key, cms, src, findCopy(s.copies, kind, key))...)
	}
	for _, obj := range s.copies {
		key := client.ObjectKeyFromObject(obj).String()
		if obj.GetLabels()[syncv1.OwnerUIDLabel] == string(cms.UID) && (kindOf(obj) != kind || !wanted[key]) {
			failures = append(failures, fmt.Sprintf("ConfigMapSync %s: stale copy %s %s was not pruned", name, kindOf(obj), key))
		}
	}
	return append(failures, checkReady(name, cms, conflict)...)
}

// checkReady checks the Ready condition and observedGeneration.
func checkReady(name string, cms *syncv1.ConfigMapSync, conflict bool) []string {
	wantStatus, wantReason := metav1.ConditionTrue, syncv1.ReasonSynced
	if conflict {
		wantStatus, wantReason = metav1.ConditionFalse, syncv1.ReasonConflict
	}
	ready := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
	switch {
	case cms.Status.ObservedGeneration != cms.Generation:
		return []string{fmt.Sprintf("ConfigMapSync %s: observedGeneration %d, generation %d", name, cms.Status.ObservedGeneration, cms.Generation)}
	case ready == nil:
		return []string{fmt.Sprintf("ConfigMapSync %s: no Ready condition", name)}
	case ready.Status != wantStatus || ready.Reason != wantReason || ready.ObservedGeneration != cms.Generation:
		return []string{fmt.Sprintf("ConfigMapSync %s: Ready=%s reason %s for generation %d, want %s %s for %d (%s)",
			name, ready.Status, ready.Reason, ready.ObservedGeneration, wantStatus, wantReason, cms.Generation, ready.Message)}
	}
	return nil
}

// checkCopy checks that a copy exists, carries the ownership labels, and holds exactly the source's content.
func checkCopy(name, key string, cms *syncv1.ConfigMapSync, src, cp client.Object) []string {
	switch {
	case cp == nil:
		return []string{fmt.Sprintf("ConfigMapSync %s: copy %s %s is missing", name, kindOf(src), key)}
	case cp.GetLabels()[syncv1.OwnerUIDLabel] != string(cms.UID):
		return []string{fmt.Sprintf("ConfigMapSync %s: copy %s is owned by %q", name,
			client.ObjectKeyFromObject(cp), cp.GetLabels()[syncv1.OwnerUIDLabel])}
	case !sameContent(selectKeys(src, cms.Spec.Source.Keys), cp):
		return []string{fmt.Sprintf("ConfigMapSync %s: copy %s differs from its source (content %s, source %s)", name,
			client.ObjectKeyFromObject(cp), contentDigest(cp), contentDigest(src))}
	}
	return nil
}

// readSource reads a ConfigMapSync's source.
func readSource(ctx context.Context, cms *syncv1.ConfigMapSync) (client.Object, error) {
	var src client.Object = &corev1.ConfigMap{}
	if cms.Spec.Source.Kind == syncv1.SourceKindSecret {
		src = &corev1.Secret{}
	}
	ns := cms.Spec.Source.Namespace
	if ns == "" {
		ns = cms.Namespace
	}
	return src, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cms.Spec.Source.Name}, src)
}

// targets computes, independently of the operator, the namespaces that should hold a copy: the listed ones and
// those the selector matches, when they exist and are not being deleted.
func targets(cms *syncv1.ConfigMapSync, namespaces []corev1.Namespace) []string {
	selector := labels.Nothing()
	if s := cms.Spec.Destination.NamespaceSelector; s != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(s); err != nil {
			selector = labels.Nothing()
		}
	}
	var out []string
	for _, ns := range namespaces {
		excluded := slices.ContainsFunc(cms.Spec.Destination.ExcludeNamespaces, func(p string) bool {
			ok, _ := path.Match(p, ns.Name)
			return ok
		})
		if ns.DeletionTimestamp == nil && !excluded &&
			(slices.Contains(cms.Spec.Destination.Namespaces, ns.Name) || selector.Matches(labels.Set(ns.Labels))) {
			out = append(out, ns.Name)
		}
	}
	return out
}

// findCopy returns the copy of kind at key, or nil.
func findCopy(copies []client.Object, kind, key string) client.Object {
	for _, obj := range copies {
		if kindOf(obj) == kind && client.ObjectKeyFromObject(obj).String() == key {
			return obj
		}
	}
	return nil
}

// selectKeys returns what a copy of src holds under spec.source.keys: each selector in order, the first to give a
// name wins. Written here from the API's documentation, not with the operator's code.
func selectKeys(src client.Object, keys []syncv1.KeySelector) client.Object {
	if len(keys) == 0 {
		return src
	}
	pick := func(names []string) map[string]string {
		out := map[string]string{} // copy's key -> source key
		for _, k := range keys {
			for _, name := range names {
				if ok, _ := path.Match(k.Key, name); ok {
					target := cmp.Or(k.As, name)
					if _, taken := out[target]; !taken {
						out[target] = name
					}
				}
			}
		}
		return out
	}
	switch s := src.(type) {
	case *corev1.ConfigMap:
		names := slices.Sorted(maps.Keys(s.Data))
		names = append(names, slices.Sorted(maps.Keys(s.BinaryData))...)
		out := &corev1.ConfigMap{Data: map[string]string{}, BinaryData: map[string][]byte{}}
		for target, name := range pick(names) {
			if v, ok := s.BinaryData[name]; ok {
				out.BinaryData[target] = v
			} else {
				out.Data[target] = s.Data[name]
			}
		}
		return out
	case *corev1.Secret:
		out := &corev1.Secret{Type: s.Type, Data: map[string][]byte{}}
		for target, name := range pick(slices.Sorted(maps.Keys(s.Data))) {
			out.Data[target] = s.Data[name]
		}
		return out
	}
	return src
}

// sameContent reports whether a copy holds exactly its source's content.
func sameContent(src, cp client.Object) bool {
	switch s := src.(type) {
	case *corev1.ConfigMap:
		c, ok := cp.(*corev1.ConfigMap)
		return ok && maps.Equal(s.Data, c.Data) && maps.EqualFunc(s.BinaryData, c.BinaryData, bytes.Equal)
	case *corev1.Secret:
		c, ok := cp.(*corev1.Secret)
		return ok && s.Type == c.Type && maps.EqualFunc(s.Data, c.Data, bytes.Equal)
	}
	return false
}

// checkProtected checks that every protected object still has its resourceVersion and content from setup.
func (c *checker) checkProtected(ctx context.Context, objs []client.Object) []string {
	var failures []string
	for i, obj := range objs {
		now, err := snapshotOf(ctx, obj)
		if err != nil {
			failures = append(failures, fmt.Sprintf("protected %s %s: %v", c.protected[i].kind, c.protected[i].key, err))
			continue
		}
		if !reflect.DeepEqual(now, c.protected[i]) {
			failures = append(failures, fmt.Sprintf("protected %s %s was modified: resourceVersion %s -> %s, digest %s -> %s",
				now.kind, now.key, c.protected[i].resourceVersion, now.resourceVersion, c.protected[i].digest, now.digest))
		}
	}
	return failures
}

// checkWrites checks every write the operator made to a ConfigMap or Secret: none succeeded on an object it does
// not own (a user's object, an unrelated one, or anything in the sources' namespace), and every object it created
// or replaced carries its managed-by label. A refused write (a create that met a user's object) is fine.
func (c *checker) checkWrites(writes []mutation) []string {
	var failures []string
	for _, m := range writes {
		if (m.resource != "configmaps" && m.resource != "secrets") || !m.succeeded() ||
			(m.resource == "secrets" && m.name == ownership.SecretName) { // The operator's own key, in its namespace.
			continue
		}
		switch {
		case m.namespace == sourceNS:
			failures = append(failures, fmt.Sprintf("replica %d: %s %s succeeded in the sources' namespace", m.replica, m.method, m.path))
		case c.isProtected(m.resource, m.key()):
			failures = append(failures, fmt.Sprintf("replica %d: %s %s succeeded on %s %s, which it does not own",
				m.replica, m.method, m.path, m.resource, m.key()))
		case (m.method == http.MethodPost || m.method == http.MethodPut) && m.labels[syncv1.ManagedByLabel] != syncv1.ManagedByValue:
			failures = append(failures, fmt.Sprintf("replica %d: %s %s %s wrote an object without the managed-by label",
				m.replica, m.method, m.resource, m.key()))
		}
	}
	return failures
}
