package syncer

import (
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// Action is what a sync must do to one destination.
type Action string

const (
	// ActionCreate means the destination has no object of that name yet.
	ActionCreate Action = "Create"
	// ActionUpdate means the operator's copy exists but holds other content or metadata.
	ActionUpdate Action = "Update"
	// ActionReplace means the copy must be deleted and created again: it is immutable, or its Secret type changed
	// (the API server refuses to update either). An immutable copy of a source that is no longer immutable is
	// replaced by a mutable one.
	ActionReplace Action = "Replace"
	// ActionNone means the copy already matches the source.
	ActionNone Action = "None"
	// ActionConflict means an object the operator does not own has the copy's name; it is left alone.
	ActionConflict Action = "Conflict"
)

// Desired returns the copy of src that belongs in namespace under name, labelled for owner. It carries the
// source's content, its labels and annotations minus other tools' tracking metadata, the ownership labels, and the
// content hash.
func Desired(src client.Object, content Content, namespace, name string, owner Owner) client.Object {
	obj := content.newObject()
	obj.SetNamespace(namespace)
	obj.SetName(name)
	labels := copiedMetadata(src.GetLabels())
	labels[syncv1.ManagedByLabel] = syncv1.ManagedByValue
	labels[syncv1.OwnerUIDLabel] = string(owner.UID)
	obj.SetLabels(labels)
	annotations := copiedMetadata(src.GetAnnotations())
	annotations[syncv1.OwnerAnnotation] = fmt.Sprintf("%s/%s", owner.Namespace, owner.Name)
	annotations[syncv1.ContentHashAnnotation] = content.Hash()
	obj.SetAnnotations(annotations)
	return obj
}

// Plan decides what to do with a destination given the object found there (nil when there is none).
func Plan(existing, desired client.Object, owner Owner) Action {
	if existing == nil {
		return ActionCreate
	}
	if !IsOwnedBy(existing, owner) {
		return ActionConflict
	}
	if upToDate(existing, desired) {
		return ActionNone
	}
	if isImmutable(existing) || secretType(existing) != secretType(desired) {
		return ActionReplace
	}
	return ActionUpdate
}

// upToDate compares content by hash, recomputed from the existing copy's data (by DropData, for the operator's
// data-less views) rather than read from its content-hash annotation, so that a copy someone edited by hand is
// restored. Labels and annotations only need to be present: what other controllers add to a copy is left alone
// rather than fought over.
func upToDate(existing, desired client.Object) bool {
	if observedHash(existing) != desired.GetAnnotations()[syncv1.ContentHashAnnotation] ||
		isImmutable(existing) != isImmutable(desired) {
		return false
	}
	return containsAll(existing.GetLabels(), desired.GetLabels()) &&
		containsAll(existing.GetAnnotations(), desired.GetAnnotations())
}

func containsAll(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func secretType(obj client.Object) corev1.SecretType {
	if s, ok := obj.(*corev1.Secret); ok {
		if s.Type == "" {
			return corev1.SecretTypeOpaque
		}
		return s.Type
	}
	return ""
}

// Released returns a copy of obj without the operator's ownership labels and annotations, its rotation record
// included: what the Orphan deletion policy leaves behind, an ordinary object that the operator will not touch
// again. It serves the copies of a ConfigMapSync and the Secret of a ManagedSecret alike.
func Released(obj client.Object) client.Object {
	out := obj.DeepCopyObject().(client.Object)
	labels := maps.Clone(out.GetLabels())
	delete(labels, syncv1.ManagedByLabel)
	delete(labels, syncv1.OwnerUIDLabel)
	out.SetLabels(labels)
	annotations := maps.Clone(out.GetAnnotations())
	for _, key := range []string{syncv1.OwnerAnnotation, syncv1.ContentHashAnnotation, syncv1.GeneratorsAnnotation,
		syncv1.LastRotationAnnotation, syncv1.RotationCountAnnotation, syncv1.RotationRequestAnnotation} {
		delete(annotations, key)
	}
	out.SetAnnotations(annotations)
	return out
}
