package syncer

import (
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unique"
	"weak"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// View is the operator's picture of a ConfigMap or Secret that carries its managed-by label: what deciding about
// the object needs, and nothing else. It never holds the object's data: the hash of the data is computed from the
// data itself when the view is made (never read from an annotation someone could set), and the ownership proof is
// checked then too. Strings that repeat across views (namespaces, names, hashes, and the labels and annotations,
// which all copies of one source share) are stored once, so that 100,000 copies cost a few hundred bytes each.
//
// A View is read-only: the maps GetLabels and GetAnnotations return are shared with other views.
type View struct {
	namespace, name unique.Handle[string]
	identity
	deletion *metav1.Time
	meta     *metaSet
	content  unique.Handle[contentID]
	kind     kindCode
	// Immutable is the object's immutable flag.
	Immutable bool
	// Verdict is what the object's ownership proof said when the view was made.
	Verdict Verdict
	// filled says which of the object's data fields hold anything: a strategic merge patch replaces a field that
	// exists but is ignored for one that does not, so UpdatePatch needs to know.
	filled dataFields
}

// contentID is what a view keeps of an object's data: its hash, and a Secret's type. Copies of one source share it.
type contentID struct {
	hash string
	typ  corev1.SecretType
}

// kindCode is a view's kind in a byte.
type kindCode uint8

const (
	kindUnknown kindCode = iota
	kindConfigMap
	kindSecret
)

// kindNames are the kinds by code.
var kindNames = [...]string{kindUnknown: "", kindConfigMap: KindConfigMap, kindSecret: KindSecret}

// dataFields is a set of the data fields of a ConfigMap or Secret.
type dataFields uint8

const (
	fieldData dataFields = 1 << iota
	fieldBinaryData
)

// filledFields returns the data fields of obj that hold anything.
func filledFields(obj client.Object) dataFields {
	var f dataFields
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		if len(o.Data) > 0 {
			f |= fieldData
		}
		if len(o.BinaryData) > 0 {
			f |= fieldBinaryData
		}
	case *corev1.Secret:
		if len(o.Data) > 0 {
			f |= fieldData
		}
	case *View:
		return o.filled
	default:
		return fieldData | fieldBinaryData // Unknown: take every field as present.
	}
	return f
}

// ViewOf returns the view of obj, a ConfigMap, a Secret or the metadata of either, with its proof checked by keys.
func ViewOf(obj client.Object, keys Keys) *View {
	v := &View{
		namespace: unique.Make(obj.GetNamespace()), name: unique.Make(obj.GetName()),
		identity: makeIdentity(obj.GetUID(), obj.GetResourceVersion()), deletion: obj.GetDeletionTimestamp(),
	}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		v.kind, v.content, v.Immutable = kindConfigMap, unique.Make(contentID{hash: HashOf(o)}), isImmutable(o)
	case *corev1.Secret:
		v.kind, v.content, v.Immutable = kindSecret, unique.Make(contentID{hash: HashOf(o), typ: secretType(o)}), isImmutable(o)
	case *metav1.PartialObjectMetadata:
		v.kind = kindConfigMap
		if o.Kind == KindSecret {
			v.kind = kindSecret
		}
	case *View:
		return o
	}
	v.Verdict = keys.Verify(obj, v.Kind())
	v.filled = filledFields(obj)
	v.meta = internMeta(obj.GetLabels(), obj.GetAnnotations())
	return v
}

// Kind is ConfigMap or Secret.
func (v *View) Kind() string { return kindNames[v.kind] }

// Hash is the hash of the data the object holds, computed from the data; "" in a view made from metadata alone.
func (v *View) Hash() string { return v.contentID().hash }

// SecretType is a Secret's type (Opaque when unset); empty for ConfigMaps and views made from metadata alone.
func (v *View) SecretType() corev1.SecretType { return v.contentID().typ }

func (v *View) contentID() contentID {
	if v.content == (unique.Handle[contentID]{}) {
		return contentID{}
	}
	return v.content.Value()
}

// Proven reports whether the object's ownership proof was valid, with either key.
func (v *View) Proven() bool { return v.Verdict != Unproven }

// The client.Object methods follow. Setters exist only to satisfy the interface: a view is never written.

// GetObjectKind implements runtime.Object.
func (v *View) GetObjectKind() schema.ObjectKind { return viewKinds[v.kind] }

// DeepCopyObject implements runtime.Object.
func (v *View) DeepCopyObject() k8sruntime.Object { c := *v; return &c }

// GetNamespace implements metav1.Object.
func (v *View) GetNamespace() string { return value(v.namespace) }

// SetNamespace implements metav1.Object.
func (v *View) SetNamespace(ns string) { v.namespace = unique.Make(ns) }

// GetName implements metav1.Object.
func (v *View) GetName() string { return value(v.name) }

// SetName implements metav1.Object.
func (v *View) SetName(name string) { v.name = unique.Make(name) }

// GetGenerateName implements metav1.Object.
func (v *View) GetGenerateName() string { return "" }

// SetGenerateName implements metav1.Object.
func (v *View) SetGenerateName(string) {}

// GetUID implements metav1.Object.
func (v *View) GetUID() types.UID { return v.UID() }

// SetUID implements metav1.Object.
func (v *View) SetUID(uid types.UID) { v.identity = makeIdentity(uid, v.ResourceVersion()) }

// GetResourceVersion implements metav1.Object.
func (v *View) GetResourceVersion() string { return v.ResourceVersion() }

// SetResourceVersion implements metav1.Object.
func (v *View) SetResourceVersion(rv string) { v.identity = makeIdentity(v.UID(), rv) }

// GetGeneration implements metav1.Object.
func (v *View) GetGeneration() int64 { return 0 }

// SetGeneration implements metav1.Object.
func (v *View) SetGeneration(int64) {}

// GetSelfLink implements metav1.Object.
func (v *View) GetSelfLink() string { return "" }

// SetSelfLink implements metav1.Object.
func (v *View) SetSelfLink(string) {}

// GetCreationTimestamp implements metav1.Object.
func (v *View) GetCreationTimestamp() metav1.Time { return metav1.Time{} }

// SetCreationTimestamp implements metav1.Object.
func (v *View) SetCreationTimestamp(metav1.Time) {}

// GetDeletionTimestamp implements metav1.Object.
func (v *View) GetDeletionTimestamp() *metav1.Time { return v.deletion }

// SetDeletionTimestamp implements metav1.Object.
func (v *View) SetDeletionTimestamp(t *metav1.Time) { v.deletion = t }

// GetDeletionGracePeriodSeconds implements metav1.Object.
func (v *View) GetDeletionGracePeriodSeconds() *int64 { return nil }

// SetDeletionGracePeriodSeconds implements metav1.Object.
func (v *View) SetDeletionGracePeriodSeconds(*int64) {}

// GetLabels implements metav1.Object.
func (v *View) GetLabels() map[string]string { return v.meta.get().labels }

// SetLabels implements metav1.Object.
func (v *View) SetLabels(l map[string]string) { v.meta = internMeta(l, v.GetAnnotations()) }

// GetAnnotations implements metav1.Object.
func (v *View) GetAnnotations() map[string]string { return v.meta.get().annotations }

// SetAnnotations implements metav1.Object.
func (v *View) SetAnnotations(a map[string]string) { v.meta = internMeta(v.GetLabels(), a) }

// GetFinalizers implements metav1.Object.
func (v *View) GetFinalizers() []string { return nil }

// SetFinalizers implements metav1.Object.
func (v *View) SetFinalizers([]string) {}

// GetOwnerReferences implements metav1.Object.
func (v *View) GetOwnerReferences() []metav1.OwnerReference { return nil }

// SetOwnerReferences implements metav1.Object.
func (v *View) SetOwnerReferences([]metav1.OwnerReference) {}

// GetManagedFields implements metav1.Object.
func (v *View) GetManagedFields() []metav1.ManagedFieldsEntry { return nil }

// SetManagedFields implements metav1.Object.
func (v *View) SetManagedFields([]metav1.ManagedFieldsEntry) {}

// viewKinds are the ObjectKinds of views, one per kind, never changed.
var viewKinds = [...]schema.ObjectKind{
	kindUnknown:   fixedKind{},
	kindConfigMap: fixedKind(corev1.SchemeGroupVersion.WithKind(KindConfigMap)),
	kindSecret:    fixedKind(corev1.SchemeGroupVersion.WithKind(KindSecret)),
}

type fixedKind schema.GroupVersionKind

// SetGroupVersionKind implements schema.ObjectKind.
func (k fixedKind) SetGroupVersionKind(schema.GroupVersionKind) {}

// GroupVersionKind implements schema.ObjectKind.
func (k fixedKind) GroupVersionKind() schema.GroupVersionKind { return schema.GroupVersionKind(k) }

// ViewList is a list of views, as a lister returns it.
type ViewList struct {
	metav1.TypeMeta
	metav1.ListMeta
	Items []View
}

// DeepCopyObject returns a copy of the list that shares the views' immutable parts.
func (l *ViewList) DeepCopyObject() k8sruntime.Object {
	c := *l
	c.Items = slices.Clone(l.Items)
	return &c
}

// metaSet is the labels and annotations of a view, minus the ownership proof (unique to each object). All copies
// of one source carry the same ones, so views share them.
type metaSet struct {
	labels, annotations map[string]string
}

var emptyMeta = &metaSet{}

func (m *metaSet) get() *metaSet {
	if m == nil {
		return emptyMeta
	}
	return m
}

// metaSets interns metaSets by their canonical form; an entry goes when no view holds its set any more.
var metaSets = struct {
	sync.Mutex
	m map[string]weak.Pointer[metaSet]
}{m: map[string]weak.Pointer[metaSet]{}}

// internMeta returns the shared metaSet holding labels and annotations (the proof left out).
func internMeta(labels, annotations map[string]string) *metaSet {
	if len(labels) == 0 && len(annotations) == 0 {
		return nil
	}
	key := canonical(labels, annotations)
	metaSets.Lock()
	defer metaSets.Unlock()
	if m := metaSets.m[key].Value(); m != nil {
		return m
	}
	m := &metaSet{labels: internMap(labels, ""), annotations: internMap(annotations, syncv1.OwnershipProofAnnotation)}
	metaSets.m[key] = weak.Make(m)
	runtime.AddCleanup(m, func(key string) {
		metaSets.Lock()
		defer metaSets.Unlock()
		if metaSets.m[key].Value() == nil {
			delete(metaSets.m, key)
		}
	}, key)
	return m
}

// canonical is the labels and annotations (the proof annotation left out) as one string, the same for equal maps
// and different for different ones: every key and value is length-prefixed, since values may hold any byte.
func canonical(labels, annotations map[string]string) string {
	var b strings.Builder
	write := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	for i, part := range []map[string]string{labels, annotations} {
		for _, k := range slices.Sorted(maps.Keys(part)) {
			if i == 1 && k == syncv1.OwnershipProofAnnotation {
				continue
			}
			write(k)
			write(part[k])
		}
		b.WriteByte('|')
	}
	return b.String()
}

// internMap returns a copy of in without the key skip; nil when nothing is left.
func internMap(in map[string]string, skip string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if k != skip {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// value returns the string h stands for; "" for the zero handle.
func value(h unique.Handle[string]) string {
	if h == (unique.Handle[string]{}) {
		return ""
	}
	return h.Value()
}
