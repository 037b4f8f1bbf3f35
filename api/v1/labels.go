package v1

// Labels and annotations the operator puts on the objects it writes, and those users put on theirs. They are part
// of the API: users select copies by them (kubectl get configmaps -l app.kubernetes.io/managed-by=configmapsync-operator)
// and opt workloads in or out of restarts with them.
const (
	// ManagedByLabel marks every copy and generated Secret the operator writes; the operator's cache holds only
	// objects with it, and it never modifies an object without it.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel on the operator's objects.
	ManagedByValue = "configmapsync-operator"
	// OwnerUIDLabel names the UID of the ConfigMapSync or ManagedSecret that owns an object. A UID, not a name,
	// because names can exceed the 63 characters a label value may hold and a re-created owner must not inherit
	// a stale copy.
	OwnerUIDLabel = "sync.configmapsync.io/owner-uid"
	// OwnerAnnotation holds "namespace/name" of the owner, so events on a copy map back to it.
	OwnerAnnotation = "sync.configmapsync.io/owner"
	// ContentHashAnnotation holds the hash of the content a copy was written with.
	ContentHashAnnotation = "sync.configmapsync.io/content-hash"
	// ContentChangedAnnotation on a copy or a generated Secret holds when the operator last changed its content
	// (RFC 3339). A workload that uses it and was never restarted by the operator is owed a restart only when it
	// existed before then (see docs/secrets.md, "Restarting consumers").
	ContentChangedAnnotation = "sync.configmapsync.io/content-changed"
	// AdoptedAnnotation on a copy holds when a ConfigMapSync with conflictPolicy Adopt took over the object that was
	// there before (RFC 3339). The operator keeps it while it owns the copy and removes it when it releases it.
	AdoptedAnnotation = "sync.configmapsync.io/adopted"
	// RolloutOptInAnnotation on a Deployment, StatefulSet or DaemonSet opts it in ("true") or out ("false") of
	// restarts when a copy it uses changes.
	RolloutOptInAnnotation = "sync.configmapsync.io/rollout"
	// LastRolloutAnnotation on a workload holds when the operator last restarted it (RFC 3339), for debouncing and
	// to tell whether its pods started after a copy's last change (ContentChangedAnnotation).
	LastRolloutAnnotation = "sync.configmapsync.io/last-rollout"
)

// Ownership proof: what makes an object the operator's. Labels and annotations can be set by anyone who may patch
// an object, so they only say what an object claims; the proof says it is true.
const (
	// OwnershipProofAnnotation holds, on every copy and generated Secret the operator writes, an HMAC-SHA256 of
	// (owner UID, kind, namespace, name) under a key only the operator can read ("<key id>:<hex>"). An object
	// without a valid proof is never written, pruned, released or deleted by the operator, whatever its labels say.
	OwnershipProofAnnotation = "sync.configmapsync.io/ownership-proof"
	// SourceKeysAnnotation lists, on a copy, the label and annotation keys it carries from its source
	// ("labels=a,b;annotations=c"), so that a key the source drops is removed from the copy while the labels and
	// annotations other tools add to a copy are kept.
	SourceKeysAnnotation = "sync.configmapsync.io/source-keys"
)
