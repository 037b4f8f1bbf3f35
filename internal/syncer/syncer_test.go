package syncer

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

var testOwner = Owner{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "settings"}, UID: "uid-1"}

// testKeys signs the copies of these tests; otherKeys is another installation's key.
var (
	testKeys  = Keys{Current: NewKey([]byte("test-ownership-key-0123456789abc"))}
	otherKeys = Keys{Current: NewKey([]byte("another-installation-key-987654"))}
)

// viewOf is the View of obj the operator decides with, its proof checked with testKeys; nil for nil.
func viewOf(obj client.Object) client.Object {
	if obj == nil {
		return nil
	}
	return ViewOf(obj, testKeys)
}

func mustContent(t *testing.T, obj client.Object) Content {
	t.Helper()
	c, err := ContentOf(obj)
	require.NoError(t, err)
	return c
}

func cm(data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{Data: data, BinaryData: binary}
}

func secret(typ corev1.SecretType, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{Type: typ, Data: data}
}

// --- Content.Hash ---------------------------------------------------------------------------------------------

func TestHash_StableAcrossMapOrder(t *testing.T) {
	// Build maps with many keys in different insertion orders: Go randomises iteration, so an order-dependent
	// hash would show up here.
	a, b := map[string]string{}, map[string]string{}
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	for _, k := range keys {
		a[k] = "v-" + k
	}
	for i := len(keys) - 1; i >= 0; i-- {
		b[keys[i]] = "v-" + keys[i]
	}
	want := mustContent(t, cm(a, nil)).Hash()
	for range 20 {
		assert.Equal(t, want, mustContent(t, cm(b, nil)).Hash())
		assert.Equal(t, want, mustContent(t, cm(maps.Clone(a), nil)).Hash())
	}
}

func TestHash_IgnoresObjectMetadata(t *testing.T) {
	a := cm(map[string]string{"k": "v"}, nil)
	a.ResourceVersion, a.Labels, a.Annotations = "1", map[string]string{"x": "y"}, map[string]string{"p": "q"}
	b := cm(map[string]string{"k": "v"}, nil)
	b.ResourceVersion, b.Name, b.Namespace = "2", "other", "elsewhere"
	assert.Equal(t, mustContent(t, a).Hash(), mustContent(t, b).Hash())
}

func TestHash_SeesEveryDifference(t *testing.T) {
	base := cm(map[string]string{"a": "1", "b": "2"}, nil)
	tests := map[string]client.Object{
		"value changed":                  cm(map[string]string{"a": "1", "b": "3"}, nil),
		"key added":                      cm(map[string]string{"a": "1", "b": "2", "c": ""}, nil),
		"key removed":                    cm(map[string]string{"a": "1"}, nil),
		"key renamed":                    cm(map[string]string{"a": "1", "c": "2"}, nil),
		"key/value boundary shifted":     cm(map[string]string{"a": "12", "b": ""}, nil),
		"string key became binary":       cm(map[string]string{"a": "1"}, map[string][]byte{"b": []byte("2")}),
		"secret with the same data":      secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1"), "b": []byte("2")}),
		"empty configmap":                cm(nil, nil),
		"key and next key shifted":       cm(map[string]string{"a": "1b", "": "2"}, nil),
		"all string keys became binary":  cm(nil, map[string][]byte{"a": []byte("1"), "b": []byte("2")}),
		"value gained a trailing zero":   cm(map[string]string{"a": "1", "b": "2\x00"}, nil),
		"value moved to a different key": cm(map[string]string{"a": "2", "b": "1"}, nil),
		// Without length prefixes, "a"="1" followed by string key "b"="2" would serialise like one value "1sb2".
		"value swallowing the next key": cm(map[string]string{"a": "1sb2"}, nil),
	}
	baseHash := mustContent(t, base).Hash()
	seen := map[string]string{baseHash: "base"}
	for name, obj := range tests {
		t.Run(name, func(t *testing.T) {
			h := mustContent(t, obj).Hash()
			assert.NotEqual(t, baseHash, h)
		})
	}
	// Every variant differs from every other one too.
	for name, obj := range tests {
		h := mustContent(t, obj).Hash()
		if other, dup := seen[h]; dup {
			t.Errorf("%q and %q hash the same", name, other)
		}
		seen[h] = name
	}
}

func TestHash_SecretTypes(t *testing.T) {
	data := map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}
	opaque := mustContent(t, secret(corev1.SecretTypeOpaque, data)).Hash()
	tls := mustContent(t, secret(corev1.SecretTypeTLS, data)).Hash()
	empty := mustContent(t, secret("", data)).Hash()

	assert.NotEqual(t, opaque, tls, "different Secret types must hash differently")
	assert.Equal(t, opaque, empty, "a Secret without a type is Opaque")
	assert.NotEqual(t, mustContent(t, cm(map[string]string{"tls.crt": "c", "tls.key": "k"}, nil)).Hash(), opaque,
		"a ConfigMap and a Secret with the same data differ")

	// The kind alone tells contents apart, even with no type to differ by.
	same := map[string][]byte{"a": []byte("1")}
	assert.NotEqual(t, Content{Kind: KindConfigMap, Data: same}.Hash(), Content{Kind: KindSecret, Data: same}.Hash())
}

func TestHash_IsHexSHA256(t *testing.T) {
	h := mustContent(t, cm(map[string]string{"a": "1"}, nil)).Hash()
	assert.Len(t, h, 64)
	assert.Regexp(t, "^[0-9a-f]{64}$", h)
}

// --- ContentOf ------------------------------------------------------------------------------------------------

func TestContentOf_ConfigMap(t *testing.T) {
	c := mustContent(t, cm(map[string]string{"s": "text"}, map[string][]byte{"b": {0, 1, 2}}))
	assert.Equal(t, KindConfigMap, c.Kind)
	assert.Empty(t, c.Type)
	assert.Equal(t, map[string][]byte{"s": []byte("text"), "b": {0, 1, 2}}, c.Data)
	assert.Equal(t, map[string]bool{"b": true}, c.BinaryKeys)
}

func TestContentOf_ConfigMapWithoutBinaryData(t *testing.T) {
	c := mustContent(t, cm(map[string]string{"s": "text"}, nil))
	assert.False(t, c.BinaryKeys["s"])
	assert.Equal(t, map[string][]byte{"s": []byte("text")}, c.Data)
}

func TestContentOf_Secret(t *testing.T) {
	s := &corev1.Secret{
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{"a": []byte("from-data"), "b": []byte("kept")},
		StringData: map[string]string{"a": "from-stringData", "c": "added"},
	}
	c := mustContent(t, s)
	assert.Equal(t, KindSecret, c.Kind)
	assert.Equal(t, corev1.SecretTypeDockerConfigJson, c.Type)
	assert.Equal(t, map[string][]byte{
		"a": []byte("from-stringData"), // stringData wins, as on the API server
		"b": []byte("kept"),
		"c": []byte("added"),
	}, c.Data)
	assert.Empty(t, c.BinaryKeys)
}

func TestContentOf_SecretDefaultsToOpaque(t *testing.T) {
	assert.Equal(t, corev1.SecretTypeOpaque, mustContent(t, secret("", nil)).Type)
}

func TestContentOf_DoesNotAliasSourceMaps(t *testing.T) {
	s := secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")})
	c := mustContent(t, s)
	c.Data["a"] = []byte("changed")
	c.Data["new"] = []byte("x")
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, s.Data)
}

func TestContentOf_RejectsOtherTypes(t *testing.T) {
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.Namespace{}, &metav1.PartialObjectMetadata{}} {
		_, err := ContentOf(obj)
		assert.Error(t, err, "%T", obj)
	}
}

func TestContentOf_RefusesServiceAccountTokens(t *testing.T) {
	token := secret(corev1.SecretTypeServiceAccountToken, map[string][]byte{"token": []byte("a-token-value")})
	token.Namespace, token.Name = "ci", "builder-token"
	_, err := ContentOf(token)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ci/builder-token")
	assert.Contains(t, err.Error(), string(corev1.SecretTypeServiceAccountToken))
	assert.NotContains(t, err.Error(), "a-token-value", "the error never carries a value")
}

// --- Desired --------------------------------------------------------------------------------------------------

func TestDesired_ConfigMapCarriesContentAndOwnership(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, map[string][]byte{"b": {0, 1}})
	src.Namespace, src.Name = "team-a", "settings"
	content := mustContent(t, src)

	obj := Desired(src, content, "team-b", "copy-name", testOwner, testKeys)
	got, ok := obj.(*corev1.ConfigMap)
	require.True(t, ok, "want a ConfigMap, got %T", obj)

	assert.Equal(t, "team-b", got.Namespace)
	assert.Equal(t, "copy-name", got.Name)
	assert.Equal(t, map[string]string{"k": "v"}, got.Data)
	assert.Equal(t, map[string][]byte{"b": {0, 1}}, got.BinaryData)
	assert.Equal(t, syncv1.ManagedByValue, got.Labels[syncv1.ManagedByLabel])
	assert.Equal(t, "uid-1", got.Labels[syncv1.OwnerUIDLabel])
	assert.Equal(t, "team-a/settings", got.Annotations[syncv1.OwnerAnnotation])
	assert.Equal(t, content.Hash(), got.Annotations[syncv1.ContentHashAnnotation])
	assert.Equal(t, testKeys.Proof("uid-1", KindConfigMap, "team-b", "copy-name"), got.Annotations[syncv1.OwnershipProofAnnotation])
	assert.Empty(t, got.ResourceVersion)
	assert.Empty(t, got.UID)
	assert.True(t, IsOwnedBy(ViewOf(got, testKeys), testOwner), "its view proves it is the owner's")
	assert.False(t, IsOwnedBy(got, testOwner), "an object whose proof was not checked (not a View) is never owned")
	assert.False(t, IsOwnedBy(ViewOf(got, otherKeys), testOwner), "another installation's key proves nothing")
	key, ok := OwnerKey(got)
	assert.True(t, ok)
	assert.Equal(t, testOwner.NamespacedName, key)
}

func TestDesired_HashMatchesCopyContent(t *testing.T) {
	// The hash annotation must be the hash of what the copy itself holds, or every resync would rewrite it.
	for name, src := range map[string]client.Object{
		"configmap": cm(map[string]string{"k": "v"}, map[string][]byte{"b": {0, 1}}),
		"secret":    secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c")}),
		"empty":     cm(nil, nil),
	} {
		t.Run(name, func(t *testing.T) {
			content := mustContent(t, src)
			obj := Desired(src, content, "team-b", "n", testOwner, testKeys)
			assert.Equal(t, obj.GetAnnotations()[syncv1.ContentHashAnnotation], mustContent(t, obj).Hash())
		})
	}
}

func TestDesired_SecretCarriesDataAndType(t *testing.T) {
	src := &corev1.Secret{
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("c")},
		StringData: map[string]string{"tls.key": "k"},
	}
	obj := Desired(src, mustContent(t, src), "team-b", "tls", testOwner, testKeys)
	got, ok := obj.(*corev1.Secret)
	require.True(t, ok, "want a Secret, got %T", obj)
	assert.Equal(t, corev1.SecretTypeTLS, got.Type)
	assert.Equal(t, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}, got.Data)
	assert.Empty(t, got.StringData)
	assert.Equal(t, "uid-1", got.Labels[syncv1.OwnerUIDLabel])
	assert.Equal(t, testKeys.Proof("uid-1", KindSecret, "team-b", "tls"), got.Annotations[syncv1.OwnershipProofAnnotation],
		"a Secret's proof names its kind")
	assert.Equal(t, Proven, testKeys.Verify(got, KindSecret))
	assert.Equal(t, Unproven, testKeys.Verify(got, KindConfigMap))
}

func TestDesired_AConfigMapCopiedIntoASecret(t *testing.T) {
	src := cm(map[string]string{"ca.crt": "PEM"}, map[string][]byte{"der": {0, 1, 2}})
	content := mustContent(t, src).As(KindSecret)
	obj := Desired(src, content, "team-b", "ca", testOwner, testKeys)
	got, ok := obj.(*corev1.Secret)
	require.True(t, ok, "want a Secret, got %T", obj)
	assert.Equal(t, corev1.SecretTypeOpaque, got.Type)
	assert.Equal(t, map[string][]byte{"ca.crt": []byte("PEM"), "der": {0, 1, 2}}, got.Data, "text and binary keys alike")
	assert.Equal(t, Proven, testKeys.Verify(got, KindSecret), "signed as the Secret it is")
	// The copy store hashes the Secret it reads back: the same hash, or every resync would rewrite the copy.
	assert.Equal(t, got.Annotations[syncv1.ContentHashAnnotation], HashOf(got))
	assert.NotEqual(t, mustContent(t, src).Hash(), content.Hash(), "a Secret's content is not a ConfigMap's")
	assert.Equal(t, content, content.As(KindSecret), "already a Secret's")
}

func TestDesired_SecretWithoutTypeBecomesOpaque(t *testing.T) {
	src := secret("", map[string][]byte{"a": []byte("1")})
	got := Desired(src, mustContent(t, src), "team-b", "s", testOwner, testKeys).(*corev1.Secret)
	assert.Equal(t, corev1.SecretTypeOpaque, got.Type)
}

func TestDesired_DoesNotAliasContent(t *testing.T) {
	src := secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")})
	content := mustContent(t, src)
	got := Desired(src, content, "team-b", "s", testOwner, testKeys).(*corev1.Secret)
	got.Data["a"] = []byte("changed")
	assert.Equal(t, []byte("1"), content.Data["a"])
}

func TestDesired_FiltersTrackingMetadata(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	src.Labels = map[string]string{
		"team":                             "payments",
		"app.kubernetes.io/name":           "api",
		"app.kubernetes.io/instance":       "argocd-app",
		"app.kubernetes.io/managed-by":     "Helm",
		"helm.sh/chart":                    "api-1.0.0",
		"argocd.argoproj.io/instance":      "app",
		"kustomize.toolkit.fluxcd.io/name": "flux",
		"helm.toolkit.fluxcd.io/name":      "release",
		"sync.configmapsync.io/owner-uid":  "someone-else",
	}
	src.Annotations = map[string]string{
		"description": "kept",
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
		"argocd.argoproj.io/tracking-id":                   "x",
		"argocd.argoproj.io/sync-options":                  "Prune=false",
		"meta.helm.sh/release-name":                        "r",
		"meta.helm.sh/release-namespace":                   "ns",
		"helm.sh/resource-policy":                          "keep",
		"kustomize.toolkit.fluxcd.io/checksum":             "c",
		"helm.toolkit.fluxcd.io/driftDetection":            "enabled",
		"deployment.kubernetes.io/revision":                "3",
		"sync.configmapsync.io/sync-now":                   "t1",
		"sync.configmapsync.io/owner":                      "other/owner",
		"sync.configmapsync.io/content-hash":               "stale",
		syncv1.OwnershipProofAnnotation:                    "forged:00",
		syncv1.SourceKeysAnnotation:                        "labels=forged",
	}
	content := mustContent(t, src)
	obj := Desired(src, content, "team-b", "n", testOwner, testKeys)

	assert.Equal(t, map[string]string{
		"team":                   "payments",
		"app.kubernetes.io/name": "api",
		syncv1.ManagedByLabel:    syncv1.ManagedByValue,
		syncv1.OwnerUIDLabel:     "uid-1",
	}, obj.GetLabels())
	assert.Equal(t, map[string]string{
		"description":                   "kept",
		syncv1.OwnerAnnotation:          "team-a/settings",
		syncv1.ContentHashAnnotation:    content.Hash(),
		syncv1.OwnershipProofAnnotation: testKeys.Proof("uid-1", KindConfigMap, "team-b", "n"),
		// The keys copied from the source, so that one the source drops is removed from the copy.
		syncv1.SourceKeysAnnotation: "labels=app.kubernetes.io/name,team;annotations=description",
	}, obj.GetAnnotations())

	// The source's maps are untouched.
	assert.Equal(t, "Helm", src.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, "stale", src.Annotations[syncv1.ContentHashAnnotation])
}

func TestDesired_SourceWithoutMetadata(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	obj := Desired(src, mustContent(t, src), "team-b", "n", testOwner, testKeys)
	assert.Len(t, obj.GetLabels(), 2)
	assert.Equal(t, []string{syncv1.ContentHashAnnotation, syncv1.OwnerAnnotation, syncv1.OwnershipProofAnnotation},
		slices.Sorted(maps.Keys(obj.GetAnnotations())), "no source keys to list")
}

// --- Plan -----------------------------------------------------------------------------------------------------

func TestPlan(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	src.Labels = map[string]string{"team": "payments"}
	src.Annotations = map[string]string{"note": "n"}
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)

	// existingCopy returns what the operator would have written, as read back, changed by mutate.
	existingCopy := func(mutate func(*corev1.ConfigMap)) client.Object {
		c := desired.DeepCopyObject().(*corev1.ConfigMap)
		c.ResourceVersion, c.UID = "42", "copy-uid"
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	tests := []struct {
		name     string
		existing client.Object
		want     Action
	}{
		{"no object", nil, ActionCreate},
		{"unlabelled object of the same name", cm(map[string]string{"k": "v"}, nil), ActionConflict},
		{"managed-by without owner uid", existingCopy(func(c *corev1.ConfigMap) { delete(c.Labels, syncv1.OwnerUIDLabel) }), ActionConflict},
		{"owner uid without managed-by", existingCopy(func(c *corev1.ConfigMap) { delete(c.Labels, syncv1.ManagedByLabel) }), ActionConflict},
		{"another tool's managed-by", existingCopy(func(c *corev1.ConfigMap) { c.Labels[syncv1.ManagedByLabel] = "Helm" }), ActionConflict},
		{"another ConfigMapSync's copy", existingCopy(func(c *corev1.ConfigMap) { c.Labels[syncv1.OwnerUIDLabel] = "uid-2" }), ActionConflict},
		{"another owner's copy with different data", existingCopy(func(c *corev1.ConfigMap) {
			c.Labels[syncv1.OwnerUIDLabel] = "uid-2"
			c.Data["k"] = "other"
		}), ActionConflict},
		{"same content", existingCopy(nil), ActionNone},
		{"extra labels and annotations from someone else", existingCopy(func(c *corev1.ConfigMap) {
			c.Labels["added-by"] = "kyverno"
			c.Annotations["policy"] = "x"
		}), ActionNone},
		{"different data", existingCopy(func(c *corev1.ConfigMap) { c.Data["k"] = "other" }), ActionUpdate},
		{"key added by hand", existingCopy(func(c *corev1.ConfigMap) { c.Data["extra"] = "x" }), ActionUpdate},
		{"key deleted by hand", existingCopy(func(c *corev1.ConfigMap) { c.Data = nil }), ActionUpdate},
		{"value moved to binaryData", existingCopy(func(c *corev1.ConfigMap) {
			c.Data = nil
			c.BinaryData = map[string][]byte{"k": []byte("v")}
		}), ActionUpdate},
		{"data edited by hand, hash annotation unchanged", existingCopy(func(c *corev1.ConfigMap) { c.Data["k"] = "hacked" }), ActionUpdate},
		{"hash annotation edited, data unchanged", existingCopy(func(c *corev1.ConfigMap) { c.Annotations[syncv1.ContentHashAnnotation] = "x" }), ActionUpdate},
		// The hash the plan compares is computed from the data the copy holds, never read from its annotation.
		{"emptied by hand, hash annotation intact", existingCopy(func(c *corev1.ConfigMap) { c.Data, c.BinaryData = nil, nil }), ActionUpdate},
		{"proof missing", existingCopy(func(c *corev1.ConfigMap) { delete(c.Annotations, syncv1.OwnershipProofAnnotation) }), ActionConflict},
		{"proof of another copy", existingCopy(func(c *corev1.ConfigMap) {
			c.Annotations[syncv1.OwnershipProofAnnotation] = testKeys.Proof(testOwner.UID, KindConfigMap, "team-b", "other")
		}), ActionConflict},
		{"proof made with another key", existingCopy(func(c *corev1.ConfigMap) {
			c.Annotations[syncv1.OwnershipProofAnnotation] = otherKeys.Proof(testOwner.UID, KindConfigMap, "team-b", "settings")
		}), ActionConflict},
		{"source keys annotation missing", existingCopy(func(c *corev1.ConfigMap) { delete(c.Annotations, syncv1.SourceKeysAnnotation) }), ActionUpdate},
		{"copied label missing", existingCopy(func(c *corev1.ConfigMap) { delete(c.Labels, "team") }), ActionUpdate},
		{"copied label changed", existingCopy(func(c *corev1.ConfigMap) { c.Labels["team"] = "other" }), ActionUpdate},
		{"copied annotation missing", existingCopy(func(c *corev1.ConfigMap) { delete(c.Annotations, "note") }), ActionUpdate},
		{"owner annotation missing", existingCopy(func(c *corev1.ConfigMap) { delete(c.Annotations, syncv1.OwnerAnnotation) }), ActionUpdate},
		{"immutable copy of a source no longer immutable", existingCopy(func(c *corev1.ConfigMap) { c.Immutable = ptr(true) }), ActionReplace},
		{"immutable, different content", existingCopy(func(c *corev1.ConfigMap) {
			c.Immutable = ptr(true)
			c.Data["k"] = "old"
		}), ActionReplace},
		{"explicitly mutable, different content", existingCopy(func(c *corev1.ConfigMap) {
			c.Immutable = ptr(false)
			c.Data["k"] = "old"
		}), ActionUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Plan(viewOf(tt.existing), desired, testOwner, PlanOptions{}))
		})
	}
}

func TestPlan_AdoptTakesOverAnythingButAnotherOwnersObject(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	foreign := cm(map[string]string{"k": "old"}, nil)
	foreign.Labels = map[string]string{"replicator": "yes"}
	assert.Equal(t, ActionAdopt, Plan(viewOf(foreign), desired, testOwner, PlanOptions{Adopt: true}))
	assert.Equal(t, ActionConflict, Plan(viewOf(foreign), desired, testOwner, PlanOptions{}), "Refuse")

	orphaned := desired.DeepCopyObject().(client.Object)
	orphaned.SetUID("copy-uid")
	released := applyPatch(t, orphaned, ReleasePatch("copy-uid"))
	assert.Equal(t, ActionAdopt, Plan(viewOf(released), desired, testOwner, PlanOptions{Adopt: true}), "an orphaned copy")

	another := desired.DeepCopyObject().(*corev1.ConfigMap)
	another.Labels[syncv1.OwnerUIDLabel] = "uid-of-another-configmapsync"
	assert.Equal(t, ActionConflict, Plan(viewOf(another), desired, testOwner, PlanOptions{Adopt: true}), "another ConfigMapSync's copy is never adopted")

	ours := desired.DeepCopyObject().(*corev1.ConfigMap)
	assert.Equal(t, ActionNone, Plan(viewOf(ours), desired, testOwner, PlanOptions{Adopt: true}))
}

func TestPlan_AnImmutableSourceGivesImmutableCopies(t *testing.T) {
	for _, src := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "ca"}, Immutable: ptr(true), Data: map[string]string{"ca.crt": "v1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "ca"}, Immutable: ptr(true), Data: map[string][]byte{"ca.crt": []byte("v1")}},
	} {
		t.Run(fmt.Sprintf("%T", src), func(t *testing.T) {
			desired := Desired(src, mustContent(t, src), "team-b", "ca", testOwner, testKeys)
			assert.True(t, isImmutable(desired), "the copy keeps the source's immutable flag")
			existing := func(immutable bool, value string) client.Object {
				c := desired.DeepCopyObject().(client.Object)
				switch o := c.(type) {
				case *corev1.ConfigMap:
					o.Immutable, o.Data["ca.crt"] = ptr(immutable), value
				case *corev1.Secret:
					o.Immutable, o.Data["ca.crt"] = ptr(immutable), []byte(value)
				}
				return c
			}
			assert.Equal(t, ActionNone, Plan(viewOf(existing(true, "v1")), desired, testOwner, PlanOptions{}))
			assert.Equal(t, ActionUpdate, Plan(viewOf(existing(false, "v1")), desired, testOwner, PlanOptions{}), "a mutable copy is made immutable in place")
			assert.Equal(t, ActionUpdate, Plan(viewOf(existing(false, "v0")), desired, testOwner, PlanOptions{}))
			assert.Equal(t, ActionReplace, Plan(viewOf(existing(true, "v0")), desired, testOwner, PlanOptions{}), "an immutable copy of old content is replaced")
		})
	}
}

func TestPlan_Secrets(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")})
	desired := Desired(src, mustContent(t, src), "team-b", "tls", testOwner, testKeys)
	existingCopy := func(mutate func(*corev1.Secret)) client.Object {
		c := desired.DeepCopyObject().(*corev1.Secret)
		c.ResourceVersion = "7"
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	tests := []struct {
		name     string
		existing client.Object
		want     Action
	}{
		{"same", existingCopy(nil), ActionNone},
		{"data changed", existingCopy(func(s *corev1.Secret) { s.Data["tls.key"] = []byte("other") }), ActionUpdate},
		{"type changed", existingCopy(func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }), ActionReplace},
		{"type changed, data too", existingCopy(func(s *corev1.Secret) {
			s.Type = corev1.SecretTypeOpaque
			s.Data = map[string][]byte{"x": []byte("y")}
		}), ActionReplace},
		{"immutable, data changed", existingCopy(func(s *corev1.Secret) {
			s.Immutable = ptr(true)
			s.Data["tls.key"] = []byte("other")
		}), ActionReplace},
		{"not ours", secret(corev1.SecretTypeTLS, src.Data), ActionConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Plan(viewOf(tt.existing), desired, testOwner, PlanOptions{}))
		})
	}
}

func TestPlan_OpaqueSecretWithEmptyTypeIsUpToDate(t *testing.T) {
	src := secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")})
	desired := Desired(src, mustContent(t, src), "team-b", "s", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.Secret)
	existing.Type = "" // as an older or partial read might return it
	assert.Equal(t, ActionNone, Plan(viewOf(existing), desired, testOwner, PlanOptions{}))
}

func TestPlan_DoesNotMutateArguments(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "n", testOwner, testKeys)
	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.Data["k"] = "old"
	wantDesired, wantExisting := desired.DeepCopyObject(), existing.DeepCopy()
	_ = Plan(viewOf(existing), desired, testOwner, PlanOptions{})
	assert.Equal(t, wantDesired, desired)
	assert.Equal(t, wantExisting, existing)
}

// --- ReleasePatch ---------------------------------------------------------------------------------------------

// operatorKeys are every label and annotation key the operator writes on the objects it owns.
var operatorKeys = []string{syncv1.ManagedByLabel, syncv1.OwnerUIDLabel, syncv1.OwnerAnnotation, syncv1.ContentHashAnnotation,
	syncv1.AdoptedAnnotation, syncv1.GeneratorsAnnotation, syncv1.LastRotationAnnotation, syncv1.RotationCountAnnotation,
	syncv1.RotationRequestAnnotation, syncv1.OwnershipProofAnnotation, syncv1.SourceKeysAnnotation, syncv1.ContentChangedAnnotation}

func TestReleasePatch_LeavesAnOrdinaryObject(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, map[string][]byte{"b": {1}})
	src.Labels = map[string]string{"team": "payments"}
	src.Annotations = map[string]string{"note": "n"}
	copyObj := Desired(src, mustContent(t, src), "team-b", "n", testOwner, testKeys).(*corev1.ConfigMap)
	copyObj.ResourceVersion, copyObj.UID = "5", "copy-uid"
	copyObj.Labels["added-by"] = "kyverno"
	copyObj.Finalizers = []string{"example.com/keep"}

	got := applyPatch(t, copyObj, ReleasePatch("copy-uid")).(*corev1.ConfigMap)

	assert.Equal(t, map[string]string{"team": "payments", "added-by": "kyverno"}, got.Labels)
	assert.Equal(t, map[string]string{"note": "n"}, got.Annotations)
	assert.Equal(t, map[string]string{"k": "v"}, got.Data)
	assert.Equal(t, map[string][]byte{"b": {1}}, got.BinaryData)
	assert.Equal(t, []string{"example.com/keep"}, got.Finalizers)
	assert.Equal(t, types.UID("copy-uid"), got.UID)
	assert.False(t, IsOwnedBy(ViewOf(got, testKeys), testOwner))
	assert.False(t, ClaimsSomeOwner(got))
	_, owned := OwnerKey(got)
	assert.False(t, owned)
}

func TestReleasePatch_ManagedSecret(t *testing.T) {
	s := secret(corev1.SecretTypeOpaque, map[string][]byte{"password": []byte("p")})
	s.Namespace, s.Name, s.UID = "team-b", "db", "secret-uid"
	s.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "uid-1"}
	s.Annotations = map[string]string{}
	for _, key := range operatorKeys[2:] {
		s.Annotations[key] = "x"
	}
	got := applyPatch(t, s, ReleasePatch("secret-uid")).(*corev1.Secret)
	assert.Empty(t, got.Labels)
	assert.Empty(t, got.Annotations, "every operator annotation goes, the rotation record included")
	assert.Equal(t, map[string][]byte{"password": []byte("p")}, got.Data)
}

func TestReleasePatch_NullsEveryOperatorKeyAndCarriesTheUID(t *testing.T) {
	var patch struct {
		Metadata struct {
			UID         types.UID          `json:"uid"`
			Labels      map[string]*string `json:"labels"`
			Annotations map[string]*string `json:"annotations"`
		} `json:"metadata"`
	}
	raw := ReleasePatch("the-uid")
	require.NoError(t, json.Unmarshal(raw, &patch))
	assert.Equal(t, types.UID("the-uid"), patch.Metadata.UID, "the API server refuses the patch for another object of the name")
	nulled := slices.Concat(slices.Collect(maps.Keys(patch.Metadata.Labels)), slices.Collect(maps.Keys(patch.Metadata.Annotations)))
	assert.ElementsMatch(t, operatorKeys, nulled)
	for k, v := range patch.Metadata.Labels {
		assert.Nil(t, v, k)
	}
	for k, v := range patch.Metadata.Annotations {
		assert.Nil(t, v, k)
	}
	var top map[string]any
	require.NoError(t, json.Unmarshal(raw, &top))
	assert.Equal(t, []string{"metadata"}, slices.Collect(maps.Keys(top)), "nothing but the metadata changes")
}

// --- ResolveTargets -------------------------------------------------------------------------------------------

func TestResolveTargets(t *testing.T) {
	namespaces := map[string]Namespace{
		"a":        {Name: "a", Labels: map[string]string{"env": "prod"}},
		"b":        {Name: "b", Labels: map[string]string{"env": "dev"}},
		"c":        {Name: "c", Labels: map[string]string{"env": "prod"}},
		"d":        {Name: "d"},
		"dying":    {Name: "dying", Labels: map[string]string{"env": "prod"}, Terminating: true},
		"source":   {Name: "source", Labels: map[string]string{"env": "prod"}},
		"z-listed": {Name: "z-listed"},
	}
	prod := labels.SelectorFromSet(labels.Set{"env": "prod"})

	tests := []struct {
		name        string
		listed      []string
		selector    labels.Selector
		exclude     string
		excluded    []string
		wantTargets []string
		wantMissing []string
		wantExcl    []string
	}{
		{name: "nothing", wantTargets: nil, wantMissing: nil},
		{name: "listed only, sorted", listed: []string{"z-listed", "b", "a"}, wantTargets: []string{"a", "b", "z-listed"}},
		{name: "listed duplicates", listed: []string{"b", "a", "b", "a"}, wantTargets: []string{"a", "b"}},
		{name: "selector only", selector: prod, wantTargets: []string{"a", "c", "source"}},
		{name: "listed union selector, de-duplicated", listed: []string{"d", "a"}, selector: prod, wantTargets: []string{"a", "c", "d", "source"}},
		{name: "listed non-existent is missing", listed: []string{"a", "nope", "also-nope"}, wantTargets: []string{"a"}, wantMissing: []string{"also-nope", "nope"}},
		{name: "listed terminating is missing", listed: []string{"dying", "a"}, wantTargets: []string{"a"}, wantMissing: []string{"dying"}},
		{name: "selected terminating is skipped silently", selector: prod, exclude: "source", wantTargets: []string{"a", "c"}},
		{name: "exclude never a target when listed", listed: []string{"source", "a"}, exclude: "source", wantTargets: []string{"a"}},
		{name: "exclude never a target when listed and selected", listed: []string{"source"}, selector: prod, exclude: "source", wantTargets: []string{"a", "c"}},
		{name: "exclude non-existent", listed: []string{"a"}, exclude: "nope", wantTargets: []string{"a"}},
		{name: "nil selector selects nothing", listed: []string{"b"}, selector: nil, wantTargets: []string{"b"}},
		{name: "empty selector selects nothing", listed: []string{"b"}, selector: labels.Everything(), wantTargets: []string{"b"}},
		{name: "nothing selector", listed: []string{"b"}, selector: labels.Nothing(), wantTargets: []string{"b"}},
		{name: "selector matching namespaces without labels", selector: mustSelector(t, "!env"), wantTargets: []string{"d", "z-listed"}},
		{name: "excluded by name: listed is reported, selected is not", listed: []string{"a", "b"}, selector: prod, excluded: []string{"a", "c"},
			wantTargets: []string{"b", "source"}, wantExcl: []string{"a"}},
		{name: "excluded by glob", selector: prod, excluded: []string{"s*", "?"}, wantTargets: nil},
		{name: "exclusion wins over missing", listed: []string{"nope", "dying"}, excluded: []string{"*"}, wantExcl: []string{"dying", "nope"}},
		{name: "excluding the source namespace changes nothing else", listed: []string{"source", "a"}, exclude: "source", excluded: []string{"source"},
			wantTargets: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResolveTargets(TargetRules{Listed: tt.listed, Selector: tt.selector, Exclude: tt.excluded, Source: tt.exclude}, namespaces)
			assert.Equal(t, tt.wantTargets, got.Namespaces, "namespaces")
			assert.Equal(t, tt.wantMissing, got.Missing, "missing")
			assert.Equal(t, tt.wantExcl, got.Excluded, "excluded")
		})
	}
}

func TestResolveTargets_DoesNotModifyListed(t *testing.T) {
	listed := []string{"b", "a", "b"}
	ResolveTargets(TargetRules{Listed: listed}, map[string]Namespace{"a": {Name: "a"}, "b": {Name: "b"}})
	assert.Equal(t, []string{"b", "a", "b"}, listed)
}

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	require.NoError(t, err)
	return sel
}

// --- OwnerKey / IsOwnedBy -------------------------------------------------------------------------------------

func TestOwnerKey(t *testing.T) {
	managed := map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue}
	tests := []struct {
		name        string
		labels      map[string]string
		annotation  *string
		want        types.NamespacedName
		wantOwnedOK bool
	}{
		{"valid", managed, ptr("team-a/settings"), types.NamespacedName{Namespace: "team-a", Name: "settings"}, true},
		{"valid without owner-uid label", managed, ptr("ns/n"), types.NamespacedName{Namespace: "ns", Name: "n"}, true},
		{"no managed-by label", map[string]string{syncv1.OwnerUIDLabel: "uid-1"}, ptr("team-a/settings"), types.NamespacedName{}, false},
		{"managed by someone else", map[string]string{syncv1.ManagedByLabel: "Helm"}, ptr("team-a/settings"), types.NamespacedName{}, false},
		{"no labels", nil, ptr("team-a/settings"), types.NamespacedName{}, false},
		{"no annotation", managed, nil, types.NamespacedName{}, false},
		{"empty annotation", managed, ptr(""), types.NamespacedName{}, false},
		{"no slash", managed, ptr("settings"), types.NamespacedName{}, false},
		{"only a slash", managed, ptr("/"), types.NamespacedName{}, false},
		{"empty namespace", managed, ptr("/settings"), types.NamespacedName{}, false},
		{"empty name", managed, ptr("team-a/"), types.NamespacedName{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := cm(nil, nil)
			obj.Labels = tt.labels
			if tt.annotation != nil {
				obj.Annotations = map[string]string{syncv1.OwnerAnnotation: *tt.annotation}
			}
			got, ok := OwnerKey(obj)
			assert.Equal(t, tt.wantOwnedOK, ok)
			if tt.wantOwnedOK {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestIsOwnedBy(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"both labels", map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "uid-1"}, true},
		{"both labels plus others", map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "uid-1", "x": "y"}, true},
		{"other owner", map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "uid-2"}, false},
		{"owner uid missing", map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue}, false},
		{"owner uid empty", map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: ""}, false},
		{"managed-by missing", map[string]string{syncv1.OwnerUIDLabel: "uid-1"}, false},
		{"managed-by other value", map[string]string{syncv1.ManagedByLabel: "Helm", syncv1.OwnerUIDLabel: "uid-1"}, false},
		{"no labels", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := cm(nil, nil)
			obj.Namespace, obj.Name, obj.Labels = "team-b", "settings", tt.labels
			obj.Annotations = map[string]string{syncv1.OwnershipProofAnnotation: testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings")}
			assert.Equal(t, tt.want, IsOwnedBy(ViewOf(obj, testKeys), testOwner), "with a valid proof")
			assert.False(t, IsOwnedBy(obj, testOwner), "not a View: its proof was never checked")
			delete(obj.Annotations, syncv1.OwnershipProofAnnotation)
			assert.False(t, IsOwnedBy(ViewOf(obj, testKeys), testOwner), "labels without a proof")
		})
	}
}

func TestClaims(t *testing.T) {
	managed := func(uid string, owner string) *corev1.ConfigMap {
		obj := cm(nil, nil)
		obj.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: uid}
		if owner != "" {
			obj.Annotations = map[string]string{syncv1.OwnerAnnotation: owner}
		}
		return obj
	}
	assert.True(t, ClaimsExactly(managed("uid-1", "team-a/settings"), testOwner))
	assert.False(t, ClaimsExactly(managed("uid-1", ""), testOwner), "no owner annotation")
	assert.False(t, ClaimsExactly(managed("uid-1", "team-a/other"), testOwner), "another owner's name")
	assert.False(t, ClaimsExactly(managed("uid-2", "team-a/settings"), testOwner), "another owner's UID")
	assert.True(t, ClaimsSomeOwner(managed("uid-2", "")))
	assert.False(t, ClaimsSomeOwner(managed("", "team-a/settings")), "no owner UID")
	assert.False(t, ClaimsSomeOwner(cm(nil, nil)))

	hashed := managed("uid-1", "")
	hashed.Annotations = map[string]string{syncv1.ContentHashAnnotation: "h"}
	assert.True(t, IsSyncCopy(hashed))
	assert.False(t, IsSyncCopy(managed("uid-1", "team-a/settings")), "a ManagedSecret's object carries no content hash")
	delete(hashed.Labels, syncv1.ManagedByLabel)
	assert.False(t, IsSyncCopy(hashed))
}

func TestOwnerOf(t *testing.T) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "settings", UID: "uid-1"}}
	assert.Equal(t, testOwner, OwnerOf(obj))
}

// --- NewObject / NewList --------------------------------------------------------------------------------------

func TestNewObjectAndList(t *testing.T) {
	assert.IsType(t, &corev1.ConfigMap{}, NewObject(KindConfigMap))
	assert.IsType(t, &corev1.Secret{}, NewObject(KindSecret))
	assert.IsType(t, &corev1.ConfigMapList{}, NewList(KindConfigMap))
	assert.IsType(t, &corev1.SecretList{}, NewList(KindSecret))
}

func ptr[T any](v T) *T { return &v }
