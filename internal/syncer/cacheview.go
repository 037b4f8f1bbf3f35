package syncer

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// ObservedHashAnnotation holds, on the operator's in-memory view of a copy, the hash of the content the copy
// really holds. DropData sets it; it is never written to the API server (copies are written from their desired
// state, never from a cached view), and a value someone sets on a live object is overwritten by DropData.
const ObservedHashAnnotation = "sync.configmapsync.io/observed-content-hash"

// DropData reduces a copy written by a ConfigMapSync to what deciding about it needs: its metadata and, in
// ObservedHashAnnotation, the hash recomputed from the data it actually holds, so that a hand edit still shows.
// The data itself is dropped, so that the operator's memory grows with the number of copies, not with their
// size. Any other object, a ManagedSecret's Secret among them (its next rotation keeps the values it holds), is
// left whole. DropData changes obj in place and returns it; it is the operator's cache transform for copies.
//
// DropData is idempotent, as client-go requires of transforms (a streamed list runs them twice): a view without
// data that already has the annotation is returned as it is.
func DropData(obj client.Object) client.Object {
	if !IsSyncCopy(obj) {
		return obj
	}
	if _, viewed := obj.GetAnnotations()[ObservedHashAnnotation]; viewed && !hasData(obj) {
		return obj
	}
	annotations := maps.Clone(obj.GetAnnotations())
	observed := HashOf(obj)
	if observed == annotations[syncv1.ContentHashAnnotation] {
		observed = annotations[syncv1.ContentHashAnnotation] // One string for both, not two, in every up-to-date copy.
	}
	annotations[ObservedHashAnnotation] = observed
	obj.SetAnnotations(annotations)
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = nil, nil
	case *corev1.Secret:
		o.Data, o.StringData = nil, nil
	}
	return obj
}

// hasData reports whether a ConfigMap or Secret holds any data.
func hasData(obj client.Object) bool {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return len(o.Data) > 0 || len(o.BinaryData) > 0
	case *corev1.Secret:
		return len(o.Data) > 0 || len(o.StringData) > 0
	}
	return false
}

// IsSyncCopy reports whether obj was written by the operator as a ConfigMapSync's copy: only those carry the
// content hash (a ManagedSecret's Secret carries the operator's labels too).
func IsSyncCopy(obj client.Object) bool {
	_, hashed := obj.GetAnnotations()[syncv1.ContentHashAnnotation]
	return hashed && obj.GetLabels()[syncv1.ManagedByLabel] == syncv1.ManagedByValue
}

// observedHash is the hash of the content obj holds: from DropData's annotation on a data-less view, else
// computed from its data.
func observedHash(obj client.Object) string {
	if h, ok := obj.GetAnnotations()[ObservedHashAnnotation]; ok {
		return h
	}
	return HashOf(obj)
}
