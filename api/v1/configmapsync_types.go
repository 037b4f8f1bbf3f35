package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SourceKind is the kind of object a ConfigMapSync copies (spec.source.kind), or makes (spec.destination.kind).
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

// ConflictPolicy says what a sync does with an object of the copy's name that it does not own.
// +kubebuilder:validation:Enum=Refuse;Adopt
type ConflictPolicy string

const (
	// ConflictPolicyRefuse leaves the object alone and reports a Conflict until it is gone.
	ConflictPolicyRefuse ConflictPolicy = "Refuse"
	// ConflictPolicyAdopt takes the object over and writes the copy over it, as when moving from another tool. An
	// object another ConfigMapSync owns is never adopted.
	ConflictPolicyAdopt ConflictPolicy = "Adopt"
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

	// keys selects the keys to copy (of a ConfigMap's data and binaryData, or a Secret's data), each by name or
	// glob and optionally under a new name: hand out ca.crt without tls.key, or one entry of a big settings file.
	// Without it every key is copied. Each entry must give the copies a key name of its own. A selector that
	// matches no key is reported in the KeysMatched condition. A Secret whose selected keys lack one its type
	// requires (tls.key of a kubernetes.io/tls Secret, say) is copied as an Opaque Secret.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Keys []KeySelector `json:"keys,omitempty"`
}

// KeySelector selects source keys to copy.
// +kubebuilder:validation:XValidation:rule="!has(self.as) || !(self.key.contains('*') || self.key.contains('?'))",message="as renames a single key: key must be a name, not a glob"
type KeySelector struct {
	// key is a key of the source, or a glob where * matches any run of characters and ? any one (e.g. *.crt).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9*?]+$`
	// +required
	Key string `json:"key"`

	// as is the key's name in the copies. Defaults to key. A valid ConfigMap and Secret key: letters, digits,
	// '-', '_' and '.', and not '.' or '..'.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +kubebuilder:validation:XValidation:rule="self != '.' && self != '..'",message="'.' and '..' are not valid key names"
	// +optional
	As string `json:"as,omitempty"`
}

// Destination says where the copies go: the listed namespaces plus every namespace the selector matches.
// +kubebuilder:validation:XValidation:rule="(has(self.namespaces) && size(self.namespaces) > 0) || has(self.namespaceSelector)",message="destination needs at least one of namespaces or namespaceSelector"
type Destination struct {
	// kind of the copies: ConfigMap or Secret, the source's kind when unset. A ConfigMap can be copied into
	// Secrets (a CA bundle that workloads mount from a Secret: every key becomes a key of an Opaque Secret); a
	// Secret is never copied into ConfigMaps, which are not meant for secret data. It cannot be changed after
	// creation. (Released CRDs fix the rules of existing fields: OLM v1 refuses an upgrade that changes them, so
	// the rules that involve other fields, refusing a Secret into ConfigMaps or setting kind after creation, are
	// the admission webhook's.)
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="destination.kind is immutable: create a new ConfigMapSync to copy into another kind"
	// +optional
	Kind SourceKind `json:"kind,omitempty"`

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

	// excludeNamespaces are never written to, whether listed or selected: names, or globs where * matches any run
	// of characters and ? any one (e.g. kube-*). A copy in a namespace that becomes excluded is pruned; a listed
	// namespace that is excluded is reported in status.destinations.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$`
	// +listType=set
	// +optional
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`

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

	// conflictPolicy is Refuse (leave an object of the copy's name that this ConfigMapSync does not own alone, and
	// report a Conflict) or Adopt (take it over: for copies left by kubernetes-replicator, reflector or a former
	// ConfigMapSync with deletionPolicy Orphan). Adopted objects are labelled as copies, annotated
	// sync.configmapsync.io/adopted, and follow deletionPolicy like any copy. Objects of another ConfigMapSync
	// are never adopted. Creating or changing a ConfigMapSync already needs the rights to update the copy in every
	// destination, which the admission webhook checks for the requesting user.
	// +kubebuilder:default=Refuse
	// +optional
	ConflictPolicy ConflictPolicy `json:"conflictPolicy,omitempty"`

	// rollout restarts the Deployments, StatefulSets and DaemonSets in a destination namespace that use a copy
	// when its content changes and they cannot see the change without a restart. Workloads can also opt in on
	// their own with the annotation sync.configmapsync.io/rollout: "true" (and out with "false").
	// +optional
	Rollout *RolloutPolicy `json:"rollout,omitempty"`
}

// VolumeMountPolicy says whether workloads that mount a copy as a volume are restarted.
// +kubebuilder:validation:Enum=Ignore;Restart
type VolumeMountPolicy string

const (
	// VolumeMountsIgnore does not restart for plain volume mounts: the kubelet updates them in place.
	VolumeMountsIgnore VolumeMountPolicy = "Ignore"
	// VolumeMountsRestart restarts for volume mounts too, for applications that read their files only at start.
	VolumeMountsRestart VolumeMountPolicy = "Restart"
)

// RolloutPolicy says which workloads are restarted when a copy changes.
type RolloutPolicy struct {
	// enabled restarts every workload in a destination namespace that uses the copy through environment
	// variables (env, envFrom) or a subPath mount, which never see a change without a restart.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// volumeMounts is Ignore (default: a plain volume mount is updated in place by the kubelet) or Restart.
	// +kubebuilder:default=Ignore
	// +optional
	VolumeMounts VolumeMountPolicy `json:"volumeMounts,omitempty"`

	// debounce is the shortest time between two restarts of one workload; changes within it are batched into one
	// restart at its end. A duration such as 30s (the default) or 5m.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	Debounce string `json:"debounce,omitempty"`
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

	// lastSyncTime is when the copies were last brought in line with the source: the last sync that wrote a copy,
	// or that first found them all up to date. A resync that finds nothing to do does not move it (it writes
	// nothing at all, status included).
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

	// failedDestinations is how many namespaces could not be synced (write failures and conflicts).
	// +optional
	FailedDestinations int32 `json:"failedDestinations,omitempty"`

	// destinations details the destinations that need attention first (conflicts, failures, missing or excluded
	// namespaces), then the synced ones, up to 50 entries; the counts above cover all of them.
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=namespace
	// +optional
	Destinations []DestinationStatus `json:"destinations,omitempty"`

	// pendingRollouts lists destination namespaces with workloads whose restart waits for the end of the debounce
	// window.
	// +kubebuilder:validation:MaxItems=100
	// +listType=set
	// +optional
	PendingRollouts []string `json:"pendingRollouts,omitempty"`

	// lastHandledSyncRequest is the value of the sync.configmapsync.io/sync-now annotation the operator last acted on.
	// +optional
	LastHandledSyncRequest string `json:"lastHandledSyncRequest,omitempty"`
}

// DestinationState is the state of the copy in one destination namespace.
// +kubebuilder:validation:Enum=Synced;Conflict;Failed;NamespaceNotFound;Excluded;Forbidden
type DestinationState string

const (
	// DestinationSynced means the copy matches the source.
	DestinationSynced DestinationState = "Synced"
	// DestinationConflict means an object the operator does not own has the copy's name; it is left unchanged.
	DestinationConflict DestinationState = "Conflict"
	// DestinationFailed means writing the copy failed; the operator retries.
	DestinationFailed DestinationState = "Failed"
	// DestinationNamespaceNotFound means a listed namespace does not exist (or is being deleted); the copy is written
	// when it appears.
	DestinationNamespaceNotFound DestinationState = "NamespaceNotFound"
	// DestinationExcluded means a listed namespace is excluded, by spec.destination.excludeNamespaces or by the
	// operator's --excluded-namespaces; no copy is written there.
	DestinationExcluded DestinationState = "Excluded"
	// DestinationForbidden means the ConfigMapSync's requester may no longer write (or, for a copy no longer
	// wanted there, delete) copies in that namespace: the operator writes and deletes nothing there and keeps the
	// copy as it is; the message names the missing permissions.
	DestinationForbidden DestinationState = "Forbidden"
)

// DestinationStatus is the state of one destination.
type DestinationStatus struct {
	// namespace of the destination.
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// state of the copy there.
	// +required
	State DestinationState `json:"state"`

	// message explains a state other than Synced.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Message string `json:"message,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=cms;cmsync,categories=configmapsync-all
// +kubebuilder:printcolumn:name="Source",type=string,JSONPath=`.spec.source.name`
// +kubebuilder:printcolumn:name="Destinations",type=integer,JSONPath=`.status.desiredDestinations`
// +kubebuilder:printcolumn:name="Strategy",type=string,JSONPath=`.spec.syncStrategy`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
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
