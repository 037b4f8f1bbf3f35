package v1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RotateNowAnnotation asks for a rotation of a ManagedSecret's generated keys: set it to a new value (a timestamp,
// say) and the operator rotates once and records the value in status.lastHandledRotationRequest.
const RotateNowAnnotation = "sync.configmapsync.io/rotate-now"

// PreviousKeySuffix is appended to a generated key's name for the value it had before the last rotation, which
// spec.keepPrevious keeps for a while. Key names may not end with it.
const PreviousKeySuffix = ".previous"

// Annotations the operator keeps on a managed Secret. They record how each key was generated and the rotations,
// next to the values they describe, so that a rotation and its record are one write: an operator restart or a
// lost status cannot rotate twice for one request. They never hold a value or anything derived from one.
const (
	// GeneratorsAnnotation holds a JSON object mapping each generated key to a hash of its generator's
	// parameters (kind, length, alphabet, encoding): a key whose parameters change is generated again.
	GeneratorsAnnotation = "sync.configmapsync.io/generators"
	// LastRotationAnnotation holds when the generated values were last made (RFC 3339).
	LastRotationAnnotation = "sync.configmapsync.io/last-rotation"
	// RotationCountAnnotation holds how many rotations the Secret went through.
	RotationCountAnnotation = "sync.configmapsync.io/rotation-count"
	// RotationRequestAnnotation holds the last rotate-now value acted on.
	RotationRequestAnnotation = "sync.configmapsync.io/rotation-request"
)

// Reasons of the conditions of a ManagedSecret, beside the shared ReasonConflict, ReasonPermanentFailure,
// ReasonInvalidSpec and ReasonCleanupFailed.
const (
	// ReasonSecretReady means the Secret holds every key of the spec.
	ReasonSecretReady = "SecretReady"
	// ReasonWriteFailed means writing the Secret failed; the operator retries with backoff.
	ReasonWriteFailed = "WriteFailed"
)

// Event reasons of a ManagedSecret, beside the condition reasons of Warning events.
const (
	// EventReasonRotated is the reason of the Normal event recorded on every rotation.
	EventReasonRotated = "Rotated"
)

// RandomAlphabet is the set of characters a random string is drawn from.
// +kubebuilder:validation:Enum=Alphanumeric;Alphabetic;Numeric;Hex;Base64URL;PrintableWithoutQuotes
type RandomAlphabet string

const (
	// AlphabetAlphanumeric is A-Z, a-z and 0-9.
	AlphabetAlphanumeric RandomAlphabet = "Alphanumeric"
	// AlphabetAlphabetic is A-Z and a-z.
	AlphabetAlphabetic RandomAlphabet = "Alphabetic"
	// AlphabetNumeric is 0-9.
	AlphabetNumeric RandomAlphabet = "Numeric"
	// AlphabetHex is 0-9 and a-f.
	AlphabetHex RandomAlphabet = "Hex"
	// AlphabetBase64URL is A-Z, a-z, 0-9, '-' and '_'.
	AlphabetBase64URL RandomAlphabet = "Base64URL"
	// AlphabetPrintableWithoutQuotes is printable ASCII except space, quotes (" ' `) and backslash.
	AlphabetPrintableWithoutQuotes RandomAlphabet = "PrintableWithoutQuotes"
)

// BytesEncoding is how random bytes are stored in the Secret.
// +kubebuilder:validation:Enum=Base64;Hex;Raw
type BytesEncoding string

const (
	// BytesEncodingBase64 stores standard base64 text, with padding.
	BytesEncodingBase64 BytesEncoding = "Base64"
	// BytesEncodingHex stores lowercase hexadecimal text.
	BytesEncodingHex BytesEncoding = "Hex"
	// BytesEncodingRaw stores the bytes themselves.
	BytesEncodingRaw BytesEncoding = "Raw"
)

// RandomStringGenerator generates a string of random characters.
type RandomStringGenerator struct {
	// length is the number of characters, 1 to 4096.
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	// +optional
	Length int32 `json:"length,omitempty"`

	// alphabet the characters are drawn from, each with the same probability: Alphanumeric (A-Z, a-z, 0-9),
	// Alphabetic (A-Z, a-z), Numeric (0-9), Hex (0-9, a-f), Base64URL (A-Z, a-z, 0-9, '-', '_') or
	// PrintableWithoutQuotes (printable ASCII except space, quotes and backslash).
	// +kubebuilder:default=Alphanumeric
	// +optional
	Alphabet RandomAlphabet `json:"alphabet,omitempty"`
}

// RandomBytesGenerator generates random bytes.
type RandomBytesGenerator struct {
	// length is the number of random bytes, 1 to 4096 (before encoding).
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4096
	// +optional
	Length int32 `json:"length,omitempty"`

	// encoding of the bytes in the Secret: Base64 (standard, padded), Hex (lowercase) or Raw.
	// +kubebuilder:default=Base64
	// +optional
	Encoding BytesEncoding `json:"encoding,omitempty"`
}

// UUIDGenerator generates a random (version 4) UUID in its lowercase 8-4-4-4-12 form. It has no settings.
type UUIDGenerator struct{}

// KeyType names where a key's value comes from: the member of ManagedSecretKey of the same name.
// +kubebuilder:validation:Enum=Random;Bytes;UUID;Literal
type KeyType string

const (
	// KeyTypeRandom generates a string of random characters (member random).
	KeyTypeRandom KeyType = "Random"
	// KeyTypeBytes generates random bytes (member bytes).
	KeyTypeBytes KeyType = "Bytes"
	// KeyTypeUUID generates a random UUID (member uuid).
	KeyTypeUUID KeyType = "UUID"
	// KeyTypeLiteral stores a fixed value (member literal).
	KeyTypeLiteral KeyType = "Literal"
)

// ManagedSecretKey is one key of the generated Secret and where its value comes from: exactly one of random,
// bytes, uuid or literal, or, with type set, the member type names.
// +kubebuilder:validation:XValidation:rule="[has(self.random), has(self.bytes), has(self.uuid), has(self.literal)].filter(x, x).size() == 1",message="exactly one of random, bytes, uuid or literal must be set"
// +kubebuilder:validation:XValidation:rule="!self.name.endsWith('.previous')",message="key names ending in .previous are reserved for the values keepPrevious keeps"
type ManagedSecretKey struct {
	// name of the key in the Secret: letters, digits, '-', '_' and '.', not starting with "..", and not ending
	// with ".previous".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=244
	// +kubebuilder:validation:Pattern=`^\.?[-_a-zA-Z0-9][-._a-zA-Z0-9]*$`
	// +required
	Name string `json:"name"`

	// type picks the member the value comes from, Random, Bytes, UUID or Literal, as forms do (the OpenShift
	// console writes every member's defaults): the admission webhook clears the other generators, and creates
	// the chosen one with its defaults when it is missing. A literal is never cleared: with type set to a
	// generator it is refused, so a typed value is not lost. Without type, exactly one member must be set.
	// +optional
	Type KeyType `json:"type,omitempty"`

	// random generates a string of random characters.
	// +optional
	Random *RandomStringGenerator `json:"random,omitempty"`

	// bytes generates random bytes.
	// +optional
	Bytes *RandomBytesGenerator `json:"bytes,omitempty"`

	// uuid generates a random UUID.
	// +optional
	UUID *UUIDGenerator `json:"uuid,omitempty"`

	// literal is a fixed value, stored as given and never rotated (a user name, a host). It is visible to anyone
	// who can read the ManagedSecret: keep secrets in generated keys.
	// +kubebuilder:validation:MaxLength=65536
	// +optional
	Literal *string `json:"literal,omitempty"`
}

// ManagedSecretSpec is the desired state of a ManagedSecret.
// +kubebuilder:validation:XValidation:rule="has(self.secretName) == has(oldSelf.secretName) && (!has(self.secretName) || self.secretName == oldSelf.secretName)",message="secretName is immutable: create a new ManagedSecret for another Secret"
type ManagedSecretSpec struct {
	// secretName is the name of the Secret to generate, in the ManagedSecret's namespace. Defaults to the
	// ManagedSecret's name. It cannot be changed after creation.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// type of the Secret, Opaque by default; types with required keys (kubernetes.io/basic-auth needs username or
	// password, say) must list them. It cannot be changed after creation.
	// +kubebuilder:default=Opaque
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="type is immutable: create a new ManagedSecret for another Secret type"
	// +kubebuilder:validation:XValidation:rule="self != 'kubernetes.io/service-account-token'",message="service account token Secrets are filled by Kubernetes, not generated"
	// +optional
	Type corev1.SecretType `json:"type,omitempty"`

	// keys of the Secret, 1 to 64, each generated or literal. A key added is generated, a key removed is deleted
	// from the Secret, a changed literal is updated and a key whose generator settings change is generated again;
	// the other values are kept. Keys not listed here are removed from the Secret.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=map
	// +listMapKey=name
	// +required
	Keys []ManagedSecretKey `json:"keys"`

	// rotationInterval is how often the generated keys get new values, as a duration between 1m and 8760h (e.g.
	// 24h, 720h). Literal keys are never rotated. Without it, keys rotate only on request: set the annotation
	// sync.configmapsync.io/rotate-now to a new value.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('8760h')",message="must be a duration between 1m and 8760h, such as 24h or 720h"
	// +optional
	RotationInterval string `json:"rotationInterval,omitempty"`

	// keepPrevious, when set, makes every rotation keep each generated key's old value under "<key>.previous"
	// for this long after the rotation (a duration between 1s and 8760h), so that clients can switch to the new
	// value without downtime. The ".previous" keys are then removed.
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('8760h')",message="must be a duration between 1s and 8760h, such as 10m or 1h"
	// +optional
	KeepPrevious string `json:"keepPrevious,omitempty"`

	// deletionPolicy is Delete (remove the Secret with the ManagedSecret) or Orphan (keep it, without the
	// operator's labels, so that nothing manages it any more).
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// rollout restarts the Deployments, StatefulSets and DaemonSets of this namespace that use the Secret when its
	// values change (a rotation, or a repair after a hand edit) and they cannot see the change without a restart:
	// the same engine and rules as a ConfigMapSync's rollout. Workloads can also opt in or out on their own with
	// the annotation sync.configmapsync.io/rollout. Enabling it needs the right to patch those workloads, which the
	// admission webhook checks for the requesting user.
	// +optional
	Rollout *RolloutPolicy `json:"rollout,omitempty"`
}

// ManagedSecretStatus is the observed state of a ManagedSecret. It never holds a value of the Secret or anything
// derived from one.
type ManagedSecretStatus struct {
	// observedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready says whether the Secret holds every key of the spec; Stalled is True when the operator
	// hit a failure retrying cannot fix; Deleting is True while a failed cleanup is retried.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// secretName is the name of the generated Secret.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// keyCount is how many keys of the spec the Secret holds (not counting ".previous" keys).
	// +optional
	KeyCount int32 `json:"keyCount,omitempty"`

	// lastRotationTime is when the generated values were last made: at creation, then at each rotation.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// nextRotationTime is when the next scheduled rotation is due: lastRotationTime plus rotationInterval.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// previousExpiryTime is when the ".previous" keys are removed, while the Secret has any.
	// +optional
	PreviousExpiryTime *metav1.Time `json:"previousExpiryTime,omitempty"`

	// rotationCount is how many times the generated values were rotated (their first generation not counted).
	// +optional
	RotationCount int64 `json:"rotationCount,omitempty"`

	// lastHandledRotationRequest is the value of the sync.configmapsync.io/rotate-now annotation the operator
	// last acted on.
	// +optional
	LastHandledRotationRequest string `json:"lastHandledRotationRequest,omitempty"`

	// pendingRollout is true while a restart of workloads using the Secret waits for the end of the debounce window.
	// +optional
	PendingRollout bool `json:"pendingRollout,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:shortName=msec,categories=configmapsync-all
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Keys",type=integer,JSONPath=`.status.keyCount`
// +kubebuilder:printcolumn:name="Next Rotation",type=string,JSONPath=`.status.nextRotationTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Rotations",type=integer,JSONPath=`.status.rotationCount`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ManagedSecret generates a Secret in its own namespace from a list of keys, each a random string, random bytes,
// a UUID or a literal, and rotates the generated values on a schedule or on request, optionally keeping each old
// value for a while. A Secret of that name that the operator did not create is never modified.
type ManagedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the Secret to generate.
	// +required
	Spec ManagedSecretSpec `json:"spec"`

	// status is the observed state of the Secret.
	// +optional
	Status ManagedSecretStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ManagedSecretList contains a list of ManagedSecret.
type ManagedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ManagedSecret `json:"items"`
}
