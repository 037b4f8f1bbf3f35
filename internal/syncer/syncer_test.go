package syncer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var testOwner = Owner{NamespacedName: types.NamespacedName{Namespace: "team-a", Name: "settings"}, UID: "uid-1"}

func TestHashIsStableAndSeesEveryDifference(t *testing.T) {
	base := ConfigMapContent(&corev1.ConfigMap{Data: map[string]string{"a": "1", "b": "2"}})
	same := ConfigMapContent(&corev1.ConfigMap{Data: map[string]string{"b": "2", "a": "1"}})
	assert.Equal(t, base.Hash(), same.Hash(), "map order must not change the hash")

	different := map[string]*corev1.ConfigMap{
		"value changed":         {Data: map[string]string{"a": "1", "b": "3"}},
		"key added":             {Data: map[string]string{"a": "1", "b": "2", "c": ""}},
		"key and value shifted": {Data: map[string]string{"a": "12", "b": ""}},
		"string became binary":  {Data: map[string]string{"a": "1"}, BinaryData: map[string][]byte{"b": []byte("2")}},
	}
	for name, cm := range different {
		assert.NotEqual(t, base.Hash(), ConfigMapContent(cm).Hash(), name)
	}
}

func TestHashIgnoresMetadata(t *testing.T) {
	a := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Labels: map[string]string{"x": "y"}},
		Data: map[string]string{"k": "v"}}
	b := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "2"}, Data: map[string]string{"k": "v"}}
	assert.Equal(t, ConfigMapContent(a).Hash(), ConfigMapContent(b).Hash())
}

func TestDesiredConfigMapCarriesContentAndOwnership(t *testing.T) {
	src := &corev1.ConfigMap{Data: map[string]string{"k": "v"}, BinaryData: map[string][]byte{"b": {0, 1}}}
	content := ConfigMapContent(src)
	cp := DesiredConfigMap(content, "team-b", "settings", testOwner)

	assert.Equal(t, "team-b", cp.Namespace)
	assert.Equal(t, src.Data, cp.Data)
	assert.Equal(t, src.BinaryData, cp.BinaryData)
	assert.True(t, IsOwnedBy(cp, testOwner))
	assert.Equal(t, content.Hash(), cp.Annotations[ContentHashAnnotation])
	key, ok := OwnerKey(cp)
	assert.True(t, ok)
	assert.Equal(t, testOwner.NamespacedName, key)
}

func TestPlan(t *testing.T) {
	content := ConfigMapContent(&corev1.ConfigMap{Data: map[string]string{"k": "v"}})
	ours := DesiredConfigMap(content, "team-b", "settings", testOwner)

	stale := ours.DeepCopy()
	stale.Data["k"] = "old"
	stale.Annotations[ContentHashAnnotation] = ConfigMapContent(stale).Hash()

	tampered := ours.DeepCopy()
	tampered.Data["k"] = "edited by hand"

	otherOwner := ours.DeepCopy()
	otherOwner.Labels[OwnerUIDLabel] = "uid-2"

	unlabelled := ours.DeepCopy()
	unlabelled.Labels = nil

	for name, tc := range map[string]struct {
		existing *corev1.ConfigMap
		want     Action
	}{
		"nothing there":           {nil, ActionCreate},
		"our copy, same content":  {ours, ActionNone},
		"our copy, old content":   {stale, ActionUpdate},
		"our copy, edited data":   {tampered, ActionUpdate},
		"copy of another sync":    {otherOwner, ActionConflict},
		"object the user created": {unlabelled, ActionConflict},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, Plan(tc.existing, testOwner, content.Hash()))
		})
	}
}

func TestOwnerKeyRejectsForeignAndMalformedObjects(t *testing.T) {
	for name, meta := range map[string]metav1.ObjectMeta{
		"no label":        {Annotations: map[string]string{OwnerAnnotation: "a/b"}},
		"no annotation":   {Labels: map[string]string{ManagedByLabel: ManagedByValue}},
		"no slash":        {Labels: map[string]string{ManagedByLabel: ManagedByValue}, Annotations: map[string]string{OwnerAnnotation: "ab"}},
		"empty name":      {Labels: map[string]string{ManagedByLabel: ManagedByValue}, Annotations: map[string]string{OwnerAnnotation: "a/"}},
		"empty namespace": {Labels: map[string]string{ManagedByLabel: ManagedByValue}, Annotations: map[string]string{OwnerAnnotation: "/b"}},
	} {
		_, ok := OwnerKey(&corev1.ConfigMap{ObjectMeta: meta})
		assert.False(t, ok, name)
	}
}
