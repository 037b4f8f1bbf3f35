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
	// ActionAdopt means an object the operator does not own has the copy's name and the ConfigMapSync adopts it:
	// the copy is written over it (updated, or replaced when NeedsReplace).
	ActionAdopt Action = "Adopt"
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

// Plan decides what to do with a destination given the object found there (nil when there is none). adopt says
// whether an object the owner does not own is taken over (conflictPolicy Adopt).
func Plan(existing, desired client.Object, owner Owner, adopt bool) Action {
	switch {
	case existing == nil:
		return ActionCreate
	case !IsOwnedBy(existing, owner) && adopt && !ownedByAnother(existing):
		return ActionAdopt
	case !IsOwnedBy(existing, owner):
		return ActionConflict
	case upToDate(existing, desired):
		return ActionNone
	case NeedsReplace(existing, desired):
		return ActionReplace
	}
	return ActionUpdate
}

// NeedsReplace reports whether existing cannot be updated into desired: it is immutable, or its Secret type
// differs (the API server refuses to update either).
func NeedsReplace(existing, desired client.Object) bool {
	return isImmutable(existing) || secretType(existing) != secretType(desired)
}

// ownedByAnother reports whether obj belongs to another of the operator's owners: never adopted, so that two
// ConfigMapSyncs writing one name fight over nothing.
func ownedByAnother(obj client.Object) bool {
	labels := obj.GetLabels()
	return labels[syncv1.ManagedByLabel] == syncv1.ManagedByValue && labels[syncv1.OwnerUIDLabel] != ""
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
	for _, key := range []string{syncv1.OwnerAnnotation, syncv1.ContentHashAnnotation, syncv1.AdoptedAnnotation, syncv1.GeneratorsAnnotation,
		syncv1.LastRotationAnnotation, syncv1.RotationCountAnnotation, syncv1.RotationRequestAnnotation} {
		delete(annotations, key)
	}
	out.SetAnnotations(annotations)
	return out
}
