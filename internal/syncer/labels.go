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

// IsOwnedBy reports whether obj is a copy written by the operator for owner. Objects without both labels belong to
// someone else and are never modified.
func IsOwnedBy(obj client.Object, owner Owner) bool {
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
