package v1

// Condition types of a ConfigMapSync.
const (
	// ReadyCondition is True when every destination holds an up-to-date copy of the source.
	ReadyCondition = "Ready"
	// StalledCondition is True when the operator hit a failure that retrying cannot fix (missing permissions,
	// an object the API server rejects); it waits for a change to the ConfigMapSync before trying again.
	StalledCondition = "Stalled"
	// DeletingCondition is True while the finalizer cleans up copies; False with a reason when cleanup fails.
	DeletingCondition = "Deleting"
)

// Finalizer keeps a ConfigMapSync until its copies, which live in other namespaces where owner references cannot
// reach, are deleted or released according to its deletionPolicy.
const Finalizer = "sync.configmapsync.io/cleanup"

// SyncNowAnnotation asks for a sync: set it to a new value (a timestamp, say) and the operator syncs once, also
// under the Manual strategy, and records the value in status.lastHandledSyncRequest.
const SyncNowAnnotation = "sync.configmapsync.io/sync-now"

// Reasons of the conditions of a ConfigMapSync. They are part of the API: alerts and scripts match on them.
const (
	// ReasonSynced means every copy matches the source.
	ReasonSynced = "Synced"
	// ReasonSourceNotFound means the source does not exist; existing copies are kept until it returns.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonConflict means an object the operator does not own has a copy's name in some destination.
	ReasonConflict = "Conflict"
	// ReasonSyncFailed means writing some copies failed; the operator retries with backoff.
	ReasonSyncFailed = "SyncFailed"
	// ReasonPartiallySynced means some destinations are synced, others failed or conflict.
	ReasonPartiallySynced = "PartiallySynced"
	// ReasonPermanentFailure means the sync failed for a reason retrying will not change: the API server refused a
	// write, or the source is of a kind never copied (ServiceAccount token Secrets).
	ReasonPermanentFailure = "PermanentFailure"
	// ReasonWaitingForSyncRequest means the Manual strategy waits for a sync-now request; the copies are as last synced.
	ReasonWaitingForSyncRequest = "WaitingForSyncRequest"
	// ReasonCleaningUp means the ConfigMapSync is being deleted and its copies are being cleaned up.
	ReasonCleaningUp = "CleaningUp"
	// ReasonCleanupFailed means deleting or releasing some copies failed; the finalizer stays and the operator retries.
	ReasonCleanupFailed = "CleanupFailed"
	// ReasonNoFailure means the Stalled condition is False.
	ReasonNoFailure = "NoFailure"
)

// Values of ConfigMapSyncStatus.SyncStatus, the one-word summary v1beta1 clients read.
const (
	SyncStatusSynced          = "Synced"
	SyncStatusPartiallySynced = "PartiallySynced"
	SyncStatusSourceNotFound  = "SourceNotFound"
	SyncStatusConflict        = "Conflict"
	SyncStatusFailed          = "Failed"
)
