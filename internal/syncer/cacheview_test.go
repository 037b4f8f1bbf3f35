package syncer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
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
		assert.Equal(t, want, Content{Kind: content.Kind, Type: content.Type, Data: content.Data, BinaryKeys: content.BinaryKeys}.Hash(),
			"computed without the value ContentOf kept")
	}
}

func TestHashOf_RefusedContentMatchesNothing(t *testing.T) {
	assert.Empty(t, HashOf(secret(corev1.SecretTypeServiceAccountToken, map[string][]byte{"token": []byte("t")})))
}

// syncCopyOf returns the copy Desired makes of src, as read back from the API server.
func syncCopyOf(t *testing.T, src client.Object) client.Object {
	t.Helper()
	c := Desired(src, mustContent(t, src), "team-b", "settings", testOwner)
	c.SetUID("copy-uid")
	c.SetResourceVersion("7")
	return c
}

func TestDropData_KeepsMetadataAndTheHashOfWhatTheCopyHolds(t *testing.T) {
	src := cm(map[string]string{"ca.crt": "big"}, map[string][]byte{"bin": {1}})
	view := DropData(syncCopyOf(t, src)).(*corev1.ConfigMap)

	assert.Nil(t, view.Data)
	assert.Nil(t, view.BinaryData)
	assert.Equal(t, mustContent(t, src).Hash(), view.Annotations[ObservedHashAnnotation])
	assert.Equal(t, "7", view.ResourceVersion)
	assert.True(t, IsOwnedBy(view, testOwner))
	assert.Equal(t, ActionNone, Plan(view, Desired(src, mustContent(t, src), "team-b", "settings", testOwner), testOwner, false))
}

func TestDropData_HandEditShowsInThePlan(t *testing.T) {
	src := secret(corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("p")})
	edited := syncCopyOf(t, src).(*corev1.Secret)
	edited.Data["password"] = []byte("hacked") // the content-hash annotation still claims the source's content
	view := DropData(edited)

	assert.Nil(t, view.(*corev1.Secret).Data)
	assert.Equal(t, ActionUpdate, Plan(view, Desired(src, mustContent(t, src), "team-b", "settings", testOwner), testOwner, false))
}

func TestDropData_OverwritesAnObservedHashSetByHand(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	edited := syncCopyOf(t, src).(*corev1.ConfigMap)
	edited.Data["k"] = "hacked"
	edited.Annotations[ObservedHashAnnotation] = mustContent(t, src).Hash() // claims to be up to date

	view := DropData(edited)
	assert.Equal(t, HashOf(cm(map[string]string{"k": "hacked"}, nil)), view.GetAnnotations()[ObservedHashAnnotation])
	assert.Equal(t, ActionUpdate, Plan(view, Desired(src, mustContent(t, src), "team-b", "settings", testOwner), testOwner, false))
}

func TestDropData_LeavesOtherObjectsWhole(t *testing.T) {
	for name, obj := range map[string]client.Object{
		// A ManagedSecret's Secret: the operator's, but no ConfigMapSync copy; its values must survive rotation.
		"managed secret": &corev1.Secret{Data: map[string][]byte{"password": []byte("p")}},
		"foreign object": cm(map[string]string{"k": "v"}, nil),
	} {
		if name == "managed secret" {
			obj.SetLabels(map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "uid-2"})
		}
		before := obj.DeepCopyObject()
		require.Same(t, obj, DropData(obj), name)
		assert.Equal(t, before, obj, name)
	}
}

// TestDropData_Idempotent: client-go may run a transform twice on one object (a streamed initial list does);
// the second run must not replace the hash of the data with the hash of no data.
func TestDropData_Idempotent(t *testing.T) {
	src := cm(map[string]string{"ca.crt": "big"}, nil)
	once := DropData(syncCopyOf(t, src))
	twice := DropData(once.DeepCopyObject().(client.Object))
	assert.Equal(t, once, twice)
	assert.Equal(t, mustContent(t, src).Hash(), twice.GetAnnotations()[ObservedHashAnnotation])
}

func TestContent_Size(t *testing.T) {
	assert.Equal(t, 7, mustContent(t, cm(map[string]string{"a": "abc"}, map[string][]byte{"b": {1, 2, 3, 4}})).Size())
	assert.Zero(t, mustContent(t, cm(nil, nil)).Size())
}
