package syncer

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// TestHash_SameAsEarlierReleases pins the hash of two contents to what release 0.2.0 wrote into its copies'
// annotations: a different hash would rewrite every copy after an upgrade and restart their consumers.
func TestHash_SameAsEarlierReleases(t *testing.T) {
	configMap := cm(map[string]string{"ca.crt": "-----BEGIN", "b": ""}, map[string][]byte{"bin": {0, 1, 2}})
	tls := secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")})
	for obj, want := range map[client.Object]string{
		configMap: "63a1112b86ecee474fd42c47b36d54316aeb9839414745df54f3b781eab18f72",
		tls:       "f4346a9c5947e17870153cc1fb27e175f047f426ae5eb100c83a9488ffc9b316",
	} {
		content := mustContent(t, obj)
		assert.Equal(t, want, content.Hash())
		assert.Equal(t, want, HashOf(obj))
		assert.Equal(t, want, ViewOf(obj, testKeys).Hash(), "the view's hash")
		assert.Equal(t, want, Content{Kind: content.Kind, Type: content.Type, Data: content.Data, BinaryKeys: content.BinaryKeys}.Hash(),
			"computed without the value ContentOf kept")
	}
}

func TestHashOf_RefusedContentMatchesNothing(t *testing.T) {
	assert.Empty(t, HashOf(secret(corev1.SecretTypeServiceAccountToken, map[string][]byte{"token": []byte("t")})))
}

func TestContent_Size(t *testing.T) {
	assert.Equal(t, 7, mustContent(t, cm(map[string]string{"a": "abc"}, map[string][]byte{"b": {1, 2, 3, 4}})).Size())
	assert.Zero(t, mustContent(t, cm(nil, nil)).Size())
}

// syncCopyOf returns the copy Desired makes of src at namespace/settings, as read back from the API server.
func syncCopyOf(t *testing.T, src client.Object, namespace string) client.Object {
	t.Helper()
	c := Desired(src, mustContent(t, src), namespace, "settings", testOwner, testKeys)
	c.SetUID(types.UID("copy-uid-" + namespace))
	c.SetResourceVersion("7")
	return c
}

// mapID identifies a map by its storage, so that two views sharing one map show.
func mapID(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }

func TestViewOf_ConfigMap(t *testing.T) {
	src := cm(map[string]string{"ca.crt": "big"}, map[string][]byte{"bin": {1}})
	src.Labels, src.Annotations = map[string]string{"team": "payments"}, map[string]string{"note": "n"}
	obj := syncCopyOf(t, src, "team-b").(*corev1.ConfigMap)
	obj.Immutable = ptr(true)
	v := ViewOf(obj, testKeys)

	assert.Equal(t, KindConfigMap, v.Kind())
	assert.Equal(t, corev1.SchemeGroupVersion.WithKind(KindConfigMap), v.GetObjectKind().GroupVersionKind())
	assert.Equal(t, "team-b", v.GetNamespace())
	assert.Equal(t, "settings", v.GetName())
	assert.Equal(t, obj.UID, v.GetUID())
	assert.Equal(t, "7", v.GetResourceVersion())
	assert.Equal(t, HashOf(src), v.Hash())
	assert.True(t, v.Immutable)
	assert.Empty(t, v.SecretType())
	assert.Equal(t, Proven, v.Verdict)
	assert.True(t, v.Proven())
	assert.Equal(t, obj.Labels, v.GetLabels())
	wantAnnotations := map[string]string{}
	for k, val := range obj.Annotations {
		if k != syncv1.OwnershipProofAnnotation {
			wantAnnotations[k] = val
		}
	}
	assert.Equal(t, wantAnnotations, v.GetAnnotations(), "every annotation but the proof, which is unique to each object")
	assert.Contains(t, obj.Annotations, syncv1.OwnershipProofAnnotation, "the object itself is left as it was")
	assert.Same(t, v, ViewOf(v, otherKeys), "a view is its own view")
}

func TestViewOf_Secret(t *testing.T) {
	src := secret("", map[string][]byte{"password": []byte("p")})
	obj := syncCopyOf(t, src, "team-b").(*corev1.Secret)
	obj.Type = "" // as a partial read may return it
	v := ViewOf(obj, testKeys)
	assert.Equal(t, KindSecret, v.Kind())
	assert.Equal(t, corev1.SecretTypeOpaque, v.SecretType())
	assert.Equal(t, HashOf(src), v.Hash())
	assert.False(t, v.Immutable)
	assert.Equal(t, Proven, v.Verdict, "proven as a Secret")

	tls := syncCopyOf(t, secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c")}), "team-b")
	assert.Equal(t, corev1.SecretTypeTLS, ViewOf(tls, testKeys).SecretType())
}

func TestViewOf_PartialObjectMetadata(t *testing.T) {
	full := syncCopyOf(t, secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")}), "team-b")
	partial := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: KindSecret},
		ObjectMeta: metav1.ObjectMeta{Namespace: full.GetNamespace(), Name: full.GetName(), UID: full.GetUID(),
			ResourceVersion: "7", Labels: full.GetLabels(), Annotations: full.GetAnnotations()},
	}
	v := ViewOf(partial, testKeys)
	assert.Equal(t, KindSecret, v.Kind())
	assert.Equal(t, Proven, v.Verdict, "the proof is checked for the kind the metadata names")
	assert.Empty(t, v.Hash(), "metadata alone has no data to hash")
	assert.Equal(t, full.GetLabels(), v.GetLabels())

	partial.Kind = ""
	v = ViewOf(partial, testKeys)
	assert.Equal(t, KindConfigMap, v.Kind(), "without a kind, a ConfigMap")
	assert.Equal(t, Unproven, v.Verdict, "a Secret's proof does not prove a ConfigMap")

	// Metadata alone never makes a copy up to date: its data is unknown.
	cmCopy := syncCopyOf(t, cm(map[string]string{"k": "v"}, nil), "team-b")
	desired := Desired(cm(map[string]string{"k": "v"}, nil), mustContent(t, cmCopy), "team-b", "settings", testOwner, testKeys)
	meta := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: KindConfigMap}, ObjectMeta: metav1.ObjectMeta{
		Namespace: "team-b", Name: "settings", Labels: cmCopy.GetLabels(), Annotations: cmCopy.GetAnnotations()}}
	assert.Equal(t, ActionUpdate, Plan(ViewOf(meta, testKeys), desired, testOwner, PlanOptions{}))
}

// TestViewOf_HashIsComputedFromData: the hash a view carries is the data's, whatever the annotations say.
func TestViewOf_HashIsComputedFromData(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	for name, edit := range map[string]func(*corev1.ConfigMap){
		"emptied by hand":        func(c *corev1.ConfigMap) { c.Data = nil },
		"edited by hand":         func(c *corev1.ConfigMap) { c.Data["k"] = "hacked" },
		"moved to binaryData":    func(c *corev1.ConfigMap) { c.Data, c.BinaryData = nil, map[string][]byte{"k": []byte("v")} },
		"key added by hand":      func(c *corev1.ConfigMap) { c.Data["extra"] = "" },
		"made immutable by hand": func(c *corev1.ConfigMap) { c.Immutable = ptr(true) },
	} {
		t.Run(name, func(t *testing.T) {
			edited := desired.DeepCopyObject().(*corev1.ConfigMap)
			edit(edited)
			v := ViewOf(edited, testKeys)
			assert.Equal(t, desired.GetAnnotations()[syncv1.ContentHashAnnotation], v.GetAnnotations()[syncv1.ContentHashAnnotation],
				"the annotation still claims the source's content")
			assert.Equal(t, HashOf(edited), v.Hash())
			assert.NotEqual(t, ActionNone, Plan(v, desired, testOwner, PlanOptions{}), "the copy is restored")
		})
	}
}

func TestViewOf_DoesNotAliasTheObject(t *testing.T) {
	obj := syncCopyOf(t, cm(map[string]string{"k": "v"}, nil), "team-b").(*corev1.ConfigMap)
	v := ViewOf(obj, testKeys)
	obj.Labels["changed"] = "later"
	obj.Annotations[syncv1.OwnerAnnotation] = "changed/later"
	obj.Data["k"] = "later"
	assert.NotContains(t, v.GetLabels(), "changed")
	assert.Equal(t, testOwner.String(), v.GetAnnotations()[syncv1.OwnerAnnotation])
	assert.Equal(t, HashOf(cm(map[string]string{"k": "v"}, nil)), v.Hash())
}

func TestViewOf_EqualMetadataIsShared(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	src.Labels, src.Annotations = map[string]string{"team": "payments"}, map[string]string{"note": "n"}
	a, b := ViewOf(syncCopyOf(t, src, "team-b"), testKeys), ViewOf(syncCopyOf(t, src, "team-c"), testKeys)
	require.NotEqual(t, a.GetNamespace(), b.GetNamespace())
	assert.Equal(t, Proven, a.Verdict)
	assert.Equal(t, Proven, b.Verdict, "each view's own proof, though their proofs differ")
	assert.Equal(t, mapID(a.GetLabels()), mapID(b.GetLabels()), "copies of one source share one set of labels")
	assert.Equal(t, mapID(a.GetAnnotations()), mapID(b.GetAnnotations()), "and of annotations, the proof left out")

	other := cm(map[string]string{"k": "v"}, nil)
	other.Labels, other.Annotations = map[string]string{"team": "billing"}, map[string]string{"note": "n"}
	c := ViewOf(syncCopyOf(t, other, "team-b"), testKeys)
	assert.NotEqual(t, mapID(a.GetLabels()), mapID(c.GetLabels()))
	assert.Equal(t, "billing", c.GetLabels()["team"])
	assert.Equal(t, "payments", a.GetLabels()["team"])

	// The same keys and values split differently between labels and annotations are different metadata.
	d := ViewOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"x": "1"}}}, testKeys)
	e := ViewOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"x": "1"}}}, testKeys)
	assert.Equal(t, map[string]string{"x": "1"}, d.GetLabels())
	assert.Empty(t, d.GetAnnotations())
	assert.Equal(t, map[string]string{"x": "1"}, e.GetAnnotations())
	assert.Empty(t, e.GetLabels())
}

func TestViewOf_NoMetadata(t *testing.T) {
	v := ViewOf(cm(map[string]string{"k": "v"}, nil), testKeys)
	assert.Empty(t, v.GetLabels())
	assert.Empty(t, v.GetAnnotations())
	assert.Equal(t, Unproven, v.Verdict)
	assert.False(t, IsOwnedBy(v, testOwner))
}

func TestView_IsReadOnlyToItsSiblings(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	a, b := ViewOf(syncCopyOf(t, src, "team-b"), testKeys), ViewOf(syncCopyOf(t, src, "team-c"), testKeys)
	a.SetLabels(map[string]string{"only": "a"})
	assert.Equal(t, map[string]string{"only": "a"}, a.GetLabels())
	assert.Equal(t, syncv1.ManagedByValue, b.GetLabels()[syncv1.ManagedByLabel], "setting one view's labels leaves the shared set alone")

	c := a.DeepCopyObject().(*View)
	c.SetName("other")
	assert.Equal(t, "settings", a.GetName())
	assert.Equal(t, "other", c.GetName())
}

func TestViewList_DeepCopy(t *testing.T) {
	l := &ViewList{Items: []View{*ViewOf(syncCopyOf(t, cm(nil, nil), "team-b"), testKeys)}}
	c := l.DeepCopyObject().(*ViewList)
	c.Items[0].SetName("other")
	assert.Equal(t, "settings", l.Items[0].GetName())
}

// TestViewOf_MetadataSharedOnlyWhenEqual: views share labels and annotations only when they are equal, whatever
// bytes a value holds, and a label named like the proof annotation is a label like any other.
func TestViewOf_MetadataSharedOnlyWhenEqual(t *testing.T) {
	keys := Keys{Current: NewKey([]byte("view-test-key-of-thirty-two-byte"))}
	view := func(labels, annotations map[string]string) *View {
		return ViewOf(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "n", Labels: labels, Annotations: annotations}}, keys)
	}
	a := view(map[string]string{"k": "v"}, map[string]string{"a": "1", "b": "2"})
	b := view(map[string]string{"k": "v"}, map[string]string{"a": "1\x00b\x002"})
	assert.Equal(t, map[string]string{"a": "1", "b": "2"}, a.GetAnnotations())
	assert.Equal(t, map[string]string{"a": "1\x00b\x002"}, b.GetAnnotations())
	c := view(map[string]string{"k": "v", syncv1.OwnershipProofAnnotation: "x"}, nil)
	d := view(map[string]string{"k": "v"}, nil)
	assert.Equal(t, map[string]string{"k": "v", syncv1.OwnershipProofAnnotation: "x"}, c.GetLabels())
	assert.Equal(t, map[string]string{"k": "v"}, d.GetLabels())
}
