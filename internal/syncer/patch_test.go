package syncer

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// applyPatch applies patch to obj as the API server applies a strategic merge patch, and returns the result. It
// serves ReleasePatch's JSON merge patch too: for maps of strings and scalar fields both kinds of patch do the same.
func applyPatch(t *testing.T, obj client.Object, patch []byte) client.Object {
	t.Helper()
	original, err := json.Marshal(obj)
	require.NoError(t, err)
	out := obj.DeepCopyObject().(client.Object)
	patched, err := strategicpatch.StrategicMergePatch(original, patch, out)
	require.NoError(t, err)
	out = NewObject(ViewOf(obj, testKeys).Kind())
	require.NoError(t, json.Unmarshal(patched, out))
	return out
}

// updated applies the UpdatePatch of existing (planned from its view) to it.
func updated(t *testing.T, existing, desired client.Object) client.Object {
	t.Helper()
	patch, err := UpdatePatch(ViewOf(existing, testKeys), desired)
	require.NoError(t, err)
	return applyPatch(t, existing, patch)
}

// patchFields returns the top-level fields of a patch and its metadata.
func patchFields(t *testing.T, patch []byte) (map[string]json.RawMessage, map[string]json.RawMessage) {
	t.Helper()
	var top, metadata map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(patch, &top))
	require.NoError(t, json.Unmarshal(top["metadata"], &metadata))
	return top, metadata
}

func TestUpdatePatch_TouchesOnlyWhatTheOperatorOwns(t *testing.T) {
	src := cm(map[string]string{"k": "v", "new": "n"}, nil)
	src.Labels = map[string]string{"team": "payments"}
	src.Annotations = map[string]string{"note": "n"}
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)

	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.UID, existing.ResourceVersion = "copy-uid", "42"
	existing.Data = map[string]string{"k": "old", "extra": "added by hand"}
	existing.BinaryData = map[string][]byte{"bin": {1}}
	existing.Labels["added-by"] = "kyverno"         // another tool's label
	existing.Labels["stale"] = "the source dropped" // copied from the source once
	existing.Annotations["policy"] = "x"            // another tool's annotation
	existing.Annotations["old-note"] = "dropped too"
	existing.Annotations[syncv1.SourceKeysAnnotation] = "labels=stale,team;annotations=note,old-note"
	existing.Finalizers = []string{"example.com/keep"}
	existing.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "pod-uid"}}
	require.Equal(t, ActionUpdate, Plan(viewOf(existing), desired, testOwner, PlanOptions{}))

	patch, err := UpdatePatch(ViewOf(existing, testKeys), desired)
	require.NoError(t, err)
	_, metadata := patchFields(t, patch)
	assert.JSONEq(t, `"42"`, string(metadata["resourceVersion"]), "the patch applies only to the object planned from")

	got := applyPatch(t, existing, patch).(*corev1.ConfigMap)
	assert.Equal(t, map[string]string{"k": "v", "new": "n"}, got.Data, "exactly the desired data")
	assert.Empty(t, got.BinaryData)
	assert.Equal(t, "kyverno", got.Labels["added-by"])
	assert.Equal(t, "x", got.Annotations["policy"])
	assert.Equal(t, existing.Finalizers, got.Finalizers)
	assert.Equal(t, existing.OwnerReferences, got.OwnerReferences)
	assert.NotContains(t, got.Labels, "stale", "a label the source dropped goes")
	assert.NotContains(t, got.Annotations, "old-note", "an annotation the source dropped goes")
	for k, v := range desired.GetLabels() {
		assert.Equal(t, v, got.Labels[k], k)
	}
	for k, v := range desired.GetAnnotations() {
		assert.Equal(t, v, got.Annotations[k], k)
	}
	assert.Len(t, got.Labels, len(desired.GetLabels())+1)
	assert.Len(t, got.Annotations, len(desired.GetAnnotations())+1)
	assert.Equal(t, ActionNone, Plan(viewOf(got), desired, testOwner, PlanOptions{}), "the patched copy is up to date")
}

func TestUpdatePatch_RemovesTheSourceKeysWhenTheSourceHasNone(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.Labels["team"] = "payments"
	existing.Annotations[syncv1.SourceKeysAnnotation] = "labels=team;annotations="
	got := updated(t, existing, desired)
	assert.NotContains(t, got.GetLabels(), "team")
	assert.NotContains(t, got.GetAnnotations(), syncv1.SourceKeysAnnotation)
	assert.Equal(t, ActionNone, Plan(viewOf(got), desired, testOwner, PlanOptions{}))
}

func TestUpdatePatch_LeavesUpToDateDataOut(t *testing.T) {
	src := &corev1.ConfigMap{Immutable: ptr(true), Data: map[string]string{"ca.crt": "v1"}}
	src.Labels = map[string]string{"team": "payments"}
	desired := Desired(src, mustContent(t, src), "team-b", "ca", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.Labels["team"] = "old"
	existing.ResourceVersion = "9"

	require.Equal(t, ActionUpdate, Plan(viewOf(existing), desired, testOwner, PlanOptions{}),
		"an immutable copy whose data is up to date is patched in place, not replaced")
	assert.False(t, NeedsReplace(viewOf(existing), desired))
	patch, err := UpdatePatch(ViewOf(existing, testKeys), desired)
	require.NoError(t, err)
	top, _ := patchFields(t, patch)
	assert.NotContains(t, top, "data", "the API server refuses any data in a patch of an immutable object")
	assert.NotContains(t, top, "binaryData")
	got := applyPatch(t, existing, patch).(*corev1.ConfigMap)
	assert.Equal(t, "payments", got.Labels["team"])
	assert.Equal(t, map[string]string{"ca.crt": "v1"}, got.Data)
	assert.Equal(t, ActionNone, Plan(viewOf(got), desired, testOwner, PlanOptions{}))
}

func TestUpdatePatch_MakesAMutableCopyImmutable(t *testing.T) {
	src := &corev1.ConfigMap{Immutable: ptr(true), Data: map[string]string{"ca.crt": "v2"}}
	desired := Desired(src, mustContent(t, src), "team-b", "ca", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.Immutable, existing.Data = nil, map[string]string{"ca.crt": "v1"}
	got := updated(t, existing, desired).(*corev1.ConfigMap)
	assert.Equal(t, ptr(true), got.Immutable)
	assert.Equal(t, map[string]string{"ca.crt": "v2"}, got.Data)
	assert.Equal(t, ActionNone, Plan(viewOf(got), desired, testOwner, PlanOptions{}))
}

func TestUpdatePatch_Secret(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": {0xff, 0x00, 'c'}, "tls.key": []byte("k")})
	desired := Desired(src, mustContent(t, src), "team-b", "tls", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.Secret)
	existing.Data = map[string][]byte{"tls.crt": []byte("old"), "extra": []byte("x")}

	patch, err := UpdatePatch(ViewOf(existing, testKeys), desired)
	require.NoError(t, err)
	top, _ := patchFields(t, patch)
	var data map[string]string
	require.NoError(t, json.Unmarshal(top["data"], &data))
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 'c'}), data["tls.crt"], "Secret data is base64 in the patch")
	assert.Equal(t, "replace", data["$patch"])
	assert.NotContains(t, top, "binaryData")
	assert.NotContains(t, top, "stringData")

	got := applyPatch(t, existing, patch).(*corev1.Secret)
	assert.Equal(t, src.Data, got.Data)
	assert.Equal(t, ActionNone, Plan(viewOf(got), desired, testOwner, PlanOptions{}))
}

func TestUpdatePatch_ResignsACopyOfThePreviousKey(t *testing.T) {
	old := testKeys.Current
	rotated := Keys{Current: NewKey([]byte("the-key-after-the-rotation-0123")), Previous: &old}
	src := cm(map[string]string{"k": "v"}, nil)
	existing := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, rotated)

	patch, err := UpdatePatch(ViewOf(existing, rotated), desired)
	require.NoError(t, err)
	top, _ := patchFields(t, patch)
	assert.NotContains(t, top, "data", "the data is up to date")
	got := applyPatch(t, existing, patch)
	assert.Equal(t, Proven, rotated.Verify(got, KindConfigMap))
	assert.Equal(t, ActionNone, Plan(ViewOf(got, rotated), desired, testOwner, PlanOptions{}))
}

// TestUpdatePatch_FillsAnEmptiedCopy: a copy whose data was deleted by hand is filled again. The API server drops
// a "$patch: replace" value for a field the object does not have, so the patch must not send one there.
func TestUpdatePatch_FillsAnEmptiedCopy(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing *corev1.ConfigMap
	}{
		{"no data at all", &corev1.ConfigMap{}},
		{"data but no binaryData", &corev1.ConfigMap{Data: map[string]string{"k": "old"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := cm(map[string]string{"k": "v"}, map[string][]byte{"b": {1}})
			desired := Desired(src, mustContent(t, src), "team-b", "n", testOwner, testKeys).(*corev1.ConfigMap)
			existing := tc.existing.DeepCopy()
			existing.ObjectMeta = *desired.ObjectMeta.DeepCopy()
			existing.ResourceVersion = "7"
			patch, err := UpdatePatch(ViewOf(existing, testKeys), desired)
			require.NoError(t, err)
			original, err := json.Marshal(existing)
			require.NoError(t, err)
			out, err := strategicpatch.StrategicMergePatch(original, patch, &corev1.ConfigMap{})
			require.NoError(t, err)
			got := &corev1.ConfigMap{}
			require.NoError(t, json.Unmarshal(out, got))
			assert.Equal(t, desired.Data, got.Data)
			assert.Equal(t, desired.BinaryData, got.BinaryData)
		})
	}
}
