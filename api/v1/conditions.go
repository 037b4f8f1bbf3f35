package v1

// Condition types of a ConfigMapSync.
const (
	// ReadyCondition is True when every destination holds an up-to-date copy of the source.
	ReadyCondition = "Ready"
)

// Reasons of the conditions of a ConfigMapSync. They are part of the API: alerts and scripts match on them.
const (
	// ReasonSynced: every copy matches the source.
	ReasonSynced = "Synced"
	// ReasonSourceNotFound: the source does not exist; existing copies are kept until it returns.
	ReasonSourceNotFound = "SourceNotFound"
	// ReasonConflict: an object the operator does not own has a copy's name in some destination.
	ReasonConflict = "Conflict"
	// ReasonSyncFailed: writing some copies failed; the operator retries with backoff.
	ReasonSyncFailed = "SyncFailed"
	// ReasonUnsupported: the spec asks for something this version of the operator cannot do.
	ReasonUnsupported = "Unsupported"
)

// Values of ConfigMapSyncStatus.SyncStatus, the one-word summary v1beta1 clients read.
const (
	SyncStatusSynced         = "Synced"
	SyncStatusSourceNotFound = "SourceNotFound"
	SyncStatusConflict       = "Conflict"
	SyncStatusFailed         = "Failed"
)
