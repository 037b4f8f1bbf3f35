package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConfigMapSyncSpec names one ConfigMap to keep copied from a source namespace into a destination namespace.
type ConfigMapSyncSpec struct {
	// sourceNamespace is the namespace that holds the ConfigMap to copy.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	SourceNamespace string `json:"sourceNamespace"`

	// destinationNamespace is the namespace the copy is written to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	DestinationNamespace string `json:"destinationNamespace"`

	// configMapName is the name of the ConfigMap in sourceNamespace; the copy has the same name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +required
	ConfigMapName string `json:"configMapName"`

	// syncFrequency is how often the copy is checked against the source even when nothing changed, as a
	// duration between 10s and 24h (e.g. 30s, 5m, 1h).
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	SyncFrequency string `json:"syncFrequency,omitempty"`

	// syncStrategy is automatic (copy every change at once) or manual (copy on creation and then only when the
	// sync.configmapsync.io/sync-now annotation changes).
	// +kubebuilder:default=automatic
	// +optional
	SyncStrategy SyncStrategy `json:"syncStrategy,omitempty"`
}

// SyncStrategy says when a ConfigMapSync copies its source. v1beta1 spells the values in lower case.
// +kubebuilder:validation:Enum=automatic;manual
type SyncStrategy string

const (
	// SyncStrategyAutomatic copies every change of the source at once.
	SyncStrategyAutomatic SyncStrategy = "automatic"
	// SyncStrategyManual copies the source on creation and then only when asked.
	SyncStrategyManual SyncStrategy = "manual"
)

// ConfigMapSyncStatus is the observed state of a ConfigMapSync.
type ConfigMapSyncStatus struct {
	// lastSyncTime is when the copy was last confirmed equal to the source.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// syncStatus is a one-word summary of the last sync: Synced, SourceNotFound, Conflict or Failed.
	// +optional
	SyncStatus string `json:"syncStatus,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:deprecatedversion:warning="sync.configmapsync.io/v1beta1 ConfigMapSync is deprecated; use sync.configmapsync.io/v1"
// +kubebuilder:resource:shortName=cms;cmsync,categories=configmapsync-all
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.sourceNamespace`
// +kubebuilder:printcolumn:name="ConfigMap",type=string,JSONPath=`.spec.configMapName`
// +kubebuilder:printcolumn:name="Destination",type=string,JSONPath=`.spec.destinationNamespace`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.syncStatus`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ConfigMapSync keeps a ConfigMap in one namespace copied into another namespace. This version is deprecated:
// v1 can also copy Secrets, into many namespaces and into namespaces chosen by label.
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
