package syncer

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Action is what a sync must do to one destination.
type Action string

const (
	// ActionCreate means the destination has no object of that name yet.
	ActionCreate Action = "Create"
	// ActionUpdate means the operator's copy exists but holds other content.
	ActionUpdate Action = "Update"
	// ActionNone means the copy already matches the source.
	ActionNone Action = "None"
	// ActionConflict means an object the operator does not own has the copy's name; it is left alone.
	ActionConflict Action = "Conflict"
)

// Plan decides what to do with a destination given the object found there (nil when there is none).
func Plan(existing *corev1.ConfigMap, owner Owner, hash string) Action {
	switch {
	case existing == nil:
		return ActionCreate
	case !IsOwnedBy(existing, owner):
		return ActionConflict
	case existing.Annotations[ContentHashAnnotation] != hash || !sameContent(existing, hash):
		return ActionUpdate
	default:
		return ActionNone
	}
}

// sameContent guards against someone editing a copy's data while leaving its hash annotation: the annotation alone
// would then hide the drift.
func sameContent(existing *corev1.ConfigMap, hash string) bool {
	return ConfigMapContent(existing).Hash() == hash
}

// DesiredConfigMap returns the copy of content that belongs in namespace under name, labelled for owner.
func DesiredConfigMap(content Content, namespace, name string, owner Owner) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels: map[string]string{
				ManagedByLabel: ManagedByValue,
				OwnerUIDLabel:  string(owner.UID),
			},
			Annotations: map[string]string{
				OwnerAnnotation:       fmt.Sprintf("%s/%s", owner.Namespace, owner.Name),
				ContentHashAnnotation: content.Hash(),
			},
		},
	}
	content.ApplyToConfigMap(cm)
	return cm
}
