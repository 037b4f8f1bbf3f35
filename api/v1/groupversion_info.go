// Package v1 contains the v1 API of the sync.configmapsync.io group, the hub and storage version.
// +kubebuilder:object:generate=true
// +groupName=sync.configmapsync.io
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Category is the kubectl category of both kinds (`kubectl get configmapsync-all`), set by the
// +kubebuilder:resource markers. It is not any resource's name: kubectl expands categories before names.
const Category = "configmapsync-all"

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "sync.configmapsync.io", Version: "v1"}

	// SchemeBuilder adds the types of this version to a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// addKnownTypes registers this version's kinds.
func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ConfigMapSync{}, &ConfigMapSyncList{}, &ManagedSecret{}, &ManagedSecretList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
