package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types of a ConfigMapSync and of a ManagedSecret.
const (
	// ReadyCondition is True when every destination holds an up-to-date copy of the source.
	ReadyCondition = "Ready"
	// StalledCondition is True when the operator hit a failure that retrying cannot fix (missing permissions,
	// an object the API server rejects); it waits for a change to the ConfigMapSync before trying again.
	StalledCondition = "Stalled"
	// DeletingCondition is True, with reason CleanupFailed, while the object is being deleted and cleanup of what
	// it wrote has failed: the finalizer stays and the operator retries with backoff. A cleanup that succeeds at
	// once removes the object without it.
	DeletingCondition = "Deleting"
	// KeysMatchedCondition, on a ConfigMapSync with spec.source.keys, is False when some of its entries match no
	// key of the source (or a glob's key was left out because its name was taken): the copies are still written,
	// with the keys that matched, so Ready does not change.
	KeysMatchedCondition = "KeysMatched"
)

// Finalizer keeps a ConfigMapSync until its copies, which live in other namespaces where owner references cannot
// reach, are deleted or released according to its deletionPolicy.
const Finalizer = "sync.configmapsync.io/cleanup"

// SyncNowAnnotation asks for a sync: set it to a new value (a timestamp, say) and the operator syncs once, also
// under the Manual strategy, and records the value in status.lastHandledSyncRequest.
const SyncNowAnnotation = "sync.configmapsync.io/sync-now"

// Reasons of the conditions of a ConfigMapSync (and, where the ManagedSecret's list says so, of a ManagedSecret).
// They are part of the API: alerts and scripts match on them, and the README's table lists exactly these (a test
// checks both that, and that every one of them is set somewhere).
const (
	// ReasonSynced means every copy matches the source.
	ReasonSynced = "Synced"
	// ReasonSourceNotFound means the source does not exist; existing copies are kept until it returns.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonConflict means an object the operator does not own has a copy's name in some destination.
	ReasonConflict = "Conflict"
	// ReasonSyncFailed means writing some copies failed; the operator retries with backoff.
	ReasonSyncFailed = "SyncFailed"
	// ReasonPermanentFailure means the sync failed for a reason retrying will not change: the API server refused a
	// write, or the source is of a kind never copied (ServiceAccount token Secrets).
	ReasonPermanentFailure = "PermanentFailure"
	// ReasonInvalidSpec means the spec cannot be acted on (a value the schema and the webhook let through, say
	// from an object stored by an older release); the message names the field, and the operator waits for the
	// object to change.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonKeysFound means every entry of spec.source.keys matches a key of the source.
	ReasonKeysFound = "KeysFound"
	// ReasonKeysNotFound means some entries of spec.source.keys match no key of the source; the message names them.
	ReasonKeysNotFound = "KeysNotFound"
	// ReasonCleanupFailed means deleting or releasing some copies failed; the finalizer stays and the operator retries.
	ReasonCleanupFailed = "CleanupFailed"
	// ReasonAccessRevoked means the user recorded as the ConfigMapSync's requester may no longer read its source
	// (Stalled and Ready) or write some of its destinations (Ready, and those destinations are Forbidden): nothing is
	// read or written for them there, copies are kept, and syncing resumes at the first sync after the right returns.
	// The message names the user and the missing permissions.
	ReasonAccessRevoked = "AccessRevoked"
)

// Event reasons of both kinds, beside the condition reasons of Warning events.
const (
	// EventReasonRolloutFailed is the reason of the Warning event recorded when restarting some workloads owed a
	// restart failed (spec.rollout); the message names them, and the operator retries with backoff.
	EventReasonRolloutFailed = "RolloutFailed"
	// EventReasonUnprovenOwnership is the reason of the Warning event recorded when objects carry the ownership
	// labels of a ConfigMapSync without a valid ownership proof; the message names them, and the operator leaves
	// them alone.
	EventReasonUnprovenOwnership = "UnprovenOwnership"
)

// Values of ConfigMapSyncStatus.SyncStatus, the one-word summary v1beta1 clients read.
const (
	SyncStatusSynced          = "Synced"
	SyncStatusPartiallySynced = "PartiallySynced"
	SyncStatusSourceNotFound  = "SourceNotFound"
	SyncStatusConflict        = "Conflict"
	SyncStatusFailed          = "Failed"
)

// GetConditions returns the conditions of a ConfigMapSync. With SetConditions and SetObservedGeneration it is what
// the operator's one reconcile core needs of every kind.
func (c *ConfigMapSync) GetConditions() []metav1.Condition { return c.Status.Conditions }

// SetConditions replaces the conditions of a ConfigMapSync.
func (c *ConfigMapSync) SetConditions(conditions []metav1.Condition) {
	c.Status.Conditions = conditions
}

// SetObservedGeneration records the generation the status of a ConfigMapSync describes.
func (c *ConfigMapSync) SetObservedGeneration(generation int64) {
	c.Status.ObservedGeneration = generation
}

// GetConditions returns the conditions of a ManagedSecret.
func (m *ManagedSecret) GetConditions() []metav1.Condition { return m.Status.Conditions }

// SetConditions replaces the conditions of a ManagedSecret.
func (m *ManagedSecret) SetConditions(conditions []metav1.Condition) {
	m.Status.Conditions = conditions
}

// SetObservedGeneration records the generation the status of a ManagedSecret describes.
func (m *ManagedSecret) SetObservedGeneration(generation int64) {
	m.Status.ObservedGeneration = generation
}
