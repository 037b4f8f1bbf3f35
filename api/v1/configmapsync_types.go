package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SourceKind is the kind of object a ConfigMapSync copies.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type SourceKind string

const (
	// SourceKindConfigMap copies a ConfigMap.
	SourceKindConfigMap SourceKind = "ConfigMap"
	// SourceKindSecret copies a Secret, keeping its type.
	SourceKindSecret SourceKind = "Secret"
)

// SyncStrategy says when a ConfigMapSync copies its source.
// +kubebuilder:validation:Enum=Automatic;Manual
type SyncStrategy string

const (
	// SyncStrategyAutomatic copies every change of the source at once and resyncs every syncFrequency.
	SyncStrategyAutomatic SyncStrategy = "Automatic"
	// SyncStrategyManual copies the source when the ConfigMapSync is created and then only when asked, by setting
	// the sync.configmapsync.io/sync-now annotation to a new value.
	SyncStrategyManual SyncStrategy = "Manual"
)

// DeletionPolicy says what happens to the copies when their ConfigMapSync is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes every copy the ConfigMapSync owns.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan keeps the copies and removes the operator's ownership labels from them.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// Limits enforced by the schema and the validating webhook.
const (
	// MaxDestinationNamespaces bounds spec.destination.namespaces.
	MaxDestinationNamespaces = 100
	// MinSyncFrequency and MaxSyncFrequency bound spec.syncFrequency.
	MinSyncFrequency = "10s"
	MaxSyncFrequency = "24h"
	// DefaultSyncFrequency is spec.syncFrequency when it is not set.
	DefaultSyncFrequency = "5m"
)

// SourceReference names the object to copy.
// +kubebuilder:validation:XValidation:rule="self.kind == oldSelf.kind",message="source.kind is immutable: create a new ConfigMapSync to copy another kind"
type SourceReference struct {
	// kind is ConfigMap or Secret. It cannot be changed after creation.
	// +kubebuilder:default=ConfigMap
	// +optional
	Kind SourceKind `json:"kind,omitempty"`

	// namespace holds the source object. Defaults to the ConfigMapSync's own namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// name of the source object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	Name string `json:"name"`
}

// Destination says where the copies go: the listed namespaces plus every namespace the selector matches.
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) || has(self.namespaceSelector)",message="destination needs at least one of namespaces or namespaceSelector"
type Destination struct {
	// namespaces to copy into.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// namespaceSelector selects more namespaces to copy into, including ones created later. A namespace that stops
	// matching loses its copy. Selecting namespaces needs the rights to write the source kind cluster-wide.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// name of the copies. Defaults to the source's name.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`
}

// ConfigMapSyncSpec is the desired state of a ConfigMapSync.
type ConfigMapSyncSpec struct {
	// source is the ConfigMap or Secret to copy.
	// +required
	Source SourceReference `json:"source"`

	// destination is where the copies go.
	// +required
	Destination Destination `json:"destination"`

	// syncFrequency is how often the copies are checked against the source even when nothing changed, as a
	// duration between 10s and 24h (e.g. 30s, 5m, 1h).
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	SyncFrequency string `json:"syncFrequency,omitempty"`

	// syncStrategy is Automatic (copy every change at once) or Manual (copy on creation and then only when the
	// sync.configmapsync.io/sync-now annotation changes).
	// +kubebuilder:default=Automatic
	// +optional
	SyncStrategy SyncStrategy `json:"syncStrategy,omitempty"`

	// deletionPolicy is Delete (remove the copies with the ConfigMapSync) or Orphan (keep them, unlabelled).
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ConfigMapSyncStatus is the observed state of a ConfigMapSync.
type ConfigMapSyncStatus struct {
	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready says whether every destination holds an up-to-date copy.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// lastSyncTime is when every copy was last confirmed equal to the source.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// syncStatus is a one-word summary of the last sync: Synced, PartiallySynced, SourceNotFound, Conflict or Failed.
	// +optional
	SyncStatus string `json:"syncStatus,omitempty"`

	// desiredDestinations is how many namespaces should hold a copy.
	// +optional
	DesiredDestinations int32 `json:"desiredDestinations,omitempty"`

	// syncedDestinations is how many namespaces hold an up-to-date copy.
	// +optional
	SyncedDestinations int32 `json:"syncedDestinations,omitempty"`

	// failedDestinations is how many namespaces could not be synced.
	// +optional
	FailedDestinations int32 `json:"failedDestinations,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cms;cmsync,categories=configmapsync
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.name`
// +kubebuilder:printcolumn:name="Destinations",type=integer,JSONPath=`.status.desiredDestinations`
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.syncStrategy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.syncStatus`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ConfigMapSync keeps a ConfigMap or Secret copied from a source namespace into destination namespaces: the ones
// listed and the ones a label selector matches. Copies are labelled as owned by the ConfigMapSync; an object the
// operator does not own is never overwritten.
type ConfigMapSync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired sync.
	// +required
	Spec ConfigMapSyncSpec `json:"spec"`

	// status is the observed state of the sync.
	// +optional
	Status ConfigMapSyncStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ConfigMapSyncList contains a list of ConfigMapSync.
type ConfigMapSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ConfigMapSync `json:"items"`
}

// Hub marks v1 as the version every other version converts through.
func (*ConfigMapSync) Hub() {}
