package syncer

import (
	"fmt"
	"maps"
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

	obj := Desired(src, content, "team-b", "copy-name", testOwner)
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
	assert.Empty(t, got.ResourceVersion)
	assert.Empty(t, got.UID)
	assert.True(t, IsOwnedBy(got, testOwner))
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
			obj := Desired(src, content, "team-b", "n", testOwner)
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
	obj := Desired(src, mustContent(t, src), "team-b", "tls", testOwner)
	got, ok := obj.(*corev1.Secret)
	require.True(t, ok, "want a Secret, got %T", obj)
	assert.Equal(t, corev1.SecretTypeTLS, got.Type)
	assert.Equal(t, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}, got.Data)
	assert.Empty(t, got.StringData)
	assert.Equal(t, "uid-1", got.Labels[syncv1.OwnerUIDLabel])
}

func TestDesired_SecretWithoutTypeBecomesOpaque(t *testing.T) {
	src := secret("", map[string][]byte{"a": []byte("1")})
	got := Desired(src, mustContent(t, src), "team-b", "s", testOwner).(*corev1.Secret)
	assert.Equal(t, corev1.SecretTypeOpaque, got.Type)
}

func TestDesired_DoesNotAliasContent(t *testing.T) {
	src := secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")})
	content := mustContent(t, src)
	got := Desired(src, content, "team-b", "s", testOwner).(*corev1.Secret)
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
	}
	content := mustContent(t, src)
	obj := Desired(src, content, "team-b", "n", testOwner)

	assert.Equal(t, map[string]string{
		"team":                   "payments",
		"app.kubernetes.io/name": "api",
		syncv1.ManagedByLabel:    syncv1.ManagedByValue,
		syncv1.OwnerUIDLabel:     "uid-1",
	}, obj.GetLabels())
	assert.Equal(t, map[string]string{
		"description":                "kept",
		syncv1.OwnerAnnotation:       "team-a/settings",
		syncv1.ContentHashAnnotation: content.Hash(),
	}, obj.GetAnnotations())

	// The source's maps are untouched.
	assert.Equal(t, "Helm", src.Labels["app.kubernetes.io/managed-by"])
	assert.Equal(t, "stale", src.Annotations[syncv1.ContentHashAnnotation])
}

func TestDesired_SourceWithoutMetadata(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	obj := Desired(src, mustContent(t, src), "team-b", "n", testOwner)
	assert.Len(t, obj.GetLabels(), 2)
	assert.Len(t, obj.GetAnnotations(), 2)
}

// --- Plan -----------------------------------------------------------------------------------------------------

func TestPlan(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	src.Labels = map[string]string{"team": "payments"}
	src.Annotations = map[string]string{"note": "n"}
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner)

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
			assert.Equal(t, tt.want, Plan(tt.existing, desired, testOwner, false))
		})
	}
}

func TestPlan_AdoptTakesOverAnythingButAnotherOwnersObject(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner)
	foreign := cm(map[string]string{"k": "old"}, nil)
	foreign.Labels = map[string]string{"replicator": "yes"}
	assert.Equal(t, ActionAdopt, Plan(foreign, desired, testOwner, true))
	assert.Equal(t, ActionConflict, Plan(foreign, desired, testOwner, false), "Refuse")

	released := Released(desired)
	assert.Equal(t, ActionAdopt, Plan(released, desired, testOwner, true), "an orphaned copy")

	another := desired.DeepCopyObject().(*corev1.ConfigMap)
	another.Labels[syncv1.OwnerUIDLabel] = "uid-of-another-configmapsync"
	assert.Equal(t, ActionConflict, Plan(another, desired, testOwner, true), "another ConfigMapSync's copy is never adopted")

	ours := desired.DeepCopyObject().(*corev1.ConfigMap)
	assert.Equal(t, ActionNone, Plan(ours, desired, testOwner, true))
}

func TestPlan_AnImmutableSourceGivesImmutableCopies(t *testing.T) {
	for _, src := range []client.Object{
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "ca"}, Immutable: ptr(true), Data: map[string]string{"ca.crt": "v1"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "ca"}, Immutable: ptr(true), Data: map[string][]byte{"ca.crt": []byte("v1")}},
	} {
		t.Run(fmt.Sprintf("%T", src), func(t *testing.T) {
			desired := Desired(src, mustContent(t, src), "team-b", "ca", testOwner)
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
			assert.Equal(t, ActionNone, Plan(existing(true, "v1"), desired, testOwner, false))
			assert.Equal(t, ActionUpdate, Plan(existing(false, "v1"), desired, testOwner, false), "a mutable copy is made immutable in place")
			assert.Equal(t, ActionUpdate, Plan(existing(false, "v0"), desired, testOwner, false))
			assert.Equal(t, ActionReplace, Plan(existing(true, "v0"), desired, testOwner, false), "an immutable copy of old content is replaced")
		})
	}
}

func TestPlan_Secrets(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")})
	desired := Desired(src, mustContent(t, src), "team-b", "tls", testOwner)
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
			assert.Equal(t, tt.want, Plan(tt.existing, desired, testOwner, false))
		})
	}
}

func TestPlan_OpaqueSecretWithEmptyTypeIsUpToDate(t *testing.T) {
	src := secret(corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")})
	desired := Desired(src, mustContent(t, src), "team-b", "s", testOwner)
	existing := desired.DeepCopyObject().(*corev1.Secret)
	existing.Type = "" // as an older or partial read might return it
	assert.Equal(t, ActionNone, Plan(existing, desired, testOwner, false))
}

func TestPlan_DoesNotMutateArguments(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "n", testOwner)
	existing := desired.DeepCopyObject().(*corev1.ConfigMap)
	existing.Data["k"] = "old"
	wantDesired, wantExisting := desired.DeepCopyObject(), existing.DeepCopy()
	_ = Plan(existing, desired, testOwner, false)
	assert.Equal(t, wantDesired, desired)
	assert.Equal(t, wantExisting, existing)
}

// --- Released -------------------------------------------------------------------------------------------------

func TestReleased(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, map[string][]byte{"b": {1}})
	src.Labels = map[string]string{"team": "payments"}
	src.Annotations = map[string]string{"note": "n"}
	copyObj := Desired(src, mustContent(t, src), "team-b", "n", testOwner).(*corev1.ConfigMap)
	copyObj.ResourceVersion = "5"
	original := copyObj.DeepCopy()

	out := Released(copyObj)
	got, ok := out.(*corev1.ConfigMap)
	require.True(t, ok)

	assert.Equal(t, map[string]string{"team": "payments"}, got.Labels)
	assert.Equal(t, map[string]string{"note": "n"}, got.Annotations)
	assert.Equal(t, map[string]string{"k": "v"}, got.Data)
	assert.Equal(t, map[string][]byte{"b": {1}}, got.BinaryData)
	assert.Equal(t, "team-b", got.Namespace)
	assert.Equal(t, "n", got.Name)
	assert.Equal(t, "5", got.ResourceVersion)
	assert.False(t, IsOwnedBy(got, testOwner))
	_, owned := OwnerKey(got)
	assert.False(t, owned)

	assert.Equal(t, original, copyObj, "Released must not modify its argument")
}

func TestReleased_Secret(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c")})
	copyObj := Desired(src, mustContent(t, src), "team-b", "tls", testOwner)
	got := Released(copyObj).(*corev1.Secret)
	assert.Empty(t, got.Labels)
	assert.Empty(t, got.Annotations)
	assert.Equal(t, corev1.SecretTypeTLS, got.Type)
	assert.Equal(t, map[string][]byte{"tls.crt": []byte("c")}, got.Data)
	assert.Equal(t, syncv1.ManagedByValue, copyObj.GetLabels()[syncv1.ManagedByLabel], "input untouched")
}

func TestReleased_ObjectWithoutMetadata(t *testing.T) {
	got := Released(cm(map[string]string{"k": "v"}, nil))
	assert.Empty(t, got.GetLabels())
	assert.Empty(t, got.GetAnnotations())
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
			obj.Labels = tt.labels
			assert.Equal(t, tt.want, IsOwnedBy(obj, testOwner))
		})
	}
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
