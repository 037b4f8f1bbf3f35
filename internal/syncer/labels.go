// Package syncer holds the operator's sync logic as plain functions: what a copy must look like, whether the
// operator owns an existing object, and whether an existing copy already matches its source. Reconcilers call it;
// it does no I/O, so every rule here is unit-tested without an API server.
package syncer

import (
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// Owner identifies the custom resource a copy belongs to.
type Owner struct {
	types.NamespacedName
	UID types.UID
}

// OwnerOf returns the Owner for a custom resource.
func OwnerOf(obj client.Object) Owner {
	return Owner{NamespacedName: client.ObjectKeyFromObject(obj), UID: obj.GetUID()}
}

// IsOwnedBy reports whether obj, a View, is an object the operator wrote for owner: labelled for owner, with a
// valid ownership proof. Labels alone prove nothing (anyone who may patch an object can set them), and an object
// that is not a View has not had its proof checked: neither is ever the operator's to write, prune or delete.
func IsOwnedBy(obj client.Object, owner Owner) bool {
	v, ok := obj.(*View)
	return ok && v.Proven() && claims(obj, owner)
}

// ClaimsExactly reports whether obj carries owner's labels and names owner in its owner annotation: what an object
// written for owner before ownership proofs existed carries. It proves nothing.
func ClaimsExactly(obj client.Object, owner Owner) bool {
	return claims(obj, owner) && obj.GetAnnotations()[syncv1.OwnerAnnotation] == owner.String()
}

// ClaimsSomeOwner reports whether obj carries the operator's labels with an owner UID, proven or not.
func ClaimsSomeOwner(obj client.Object) bool {
	labels := obj.GetLabels()
	return labels[syncv1.ManagedByLabel] == syncv1.ManagedByValue && labels[syncv1.OwnerUIDLabel] != ""
}

// claims reports whether obj carries the labels of owner's objects.
func claims(obj client.Object, owner Owner) bool {
	labels := obj.GetLabels()
	return labels[syncv1.ManagedByLabel] == syncv1.ManagedByValue && labels[syncv1.OwnerUIDLabel] == string(owner.UID)
}

// OwnerKey returns the owning ConfigMapSync of a copy from its annotation, and false for objects that are not
// copies written by the operator.
func OwnerKey(obj client.Object) (types.NamespacedName, bool) {
	if obj.GetLabels()[syncv1.ManagedByLabel] != syncv1.ManagedByValue {
		return types.NamespacedName{}, false
	}
	ns, name, ok := splitKey(obj.GetAnnotations()[syncv1.OwnerAnnotation])
	return types.NamespacedName{Namespace: ns, Name: name}, ok
}

func splitKey(key string) (namespace, name string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], i > 0 && i < len(key)-1
		}
	}
	return "", "", false
}

// IsSyncCopy reports whether obj carries the marks of a ConfigMapSync's copy: the managed-by label and the content
// hash (a ManagedSecret's Secret carries the operator's labels too, but no content hash). It proves nothing.
func IsSyncCopy(obj client.Object) bool {
	_, hashed := obj.GetAnnotations()[syncv1.ContentHashAnnotation]
	return hashed && obj.GetLabels()[syncv1.ManagedByLabel] == syncv1.ManagedByValue
}
