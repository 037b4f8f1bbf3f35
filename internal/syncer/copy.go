package syncer

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// Action is what a sync must do to one destination.
type Action string

const (
	// ActionCreate means the destination has no object of that name yet.
	ActionCreate Action = "Create"
	// ActionUpdate means the operator's copy exists but holds other content or metadata.
	ActionUpdate Action = "Update"
	// ActionReplace means the copy must be deleted and created again: it is immutable, or its Secret type changed
	// (the API server refuses to update either). An immutable copy of a source that is no longer immutable is
	// replaced by a mutable one.
	ActionReplace Action = "Replace"
	// ActionNone means the copy already matches the source.
	ActionNone Action = "None"
	// ActionConflict means an object the operator does not own has the copy's name; it is left alone.
	ActionConflict Action = "Conflict"
	// ActionAdopt means an object the operator does not own has the copy's name and the ConfigMapSync adopts it:
	// the copy is written over it (updated, or replaced when NeedsReplace).
	ActionAdopt Action = "Adopt"
)

// Desired returns the copy of src that belongs in namespace under name, labelled for owner and signed with keys. It
// carries the source's content, its labels and annotations minus other tools' tracking metadata (and the list of
// their keys), the ownership labels and proof, and the content hash.
func Desired(src client.Object, content Content, namespace, name string, owner Owner, keys Keys) client.Object {
	obj := content.newObject()
	obj.SetNamespace(namespace)
	obj.SetName(name)
	labels := copiedMetadata(src.GetLabels())
	annotations := copiedMetadata(src.GetAnnotations())
	sourceKeys := sourceKeysOf(labels, annotations)
	labels[syncv1.ManagedByLabel] = syncv1.ManagedByValue
	labels[syncv1.OwnerUIDLabel] = string(owner.UID)
	obj.SetLabels(labels)
	annotations[syncv1.OwnerAnnotation] = owner.String()
	annotations[syncv1.ContentHashAnnotation] = content.Hash()
	annotations[syncv1.OwnershipProofAnnotation] = keys.Proof(owner.UID, content.Kind, namespace, name)
	if sourceKeys != "" {
		annotations[syncv1.SourceKeysAnnotation] = sourceKeys
	}
	obj.SetAnnotations(annotations)
	return obj
}

// PlanOptions are the choices of a ConfigMapSync that change what Plan decides.
type PlanOptions struct {
	// Adopt takes over an object of the copy's name that no owner claims (conflictPolicy Adopt).
	Adopt bool
	// AcceptUnproven takes an object that claims owner exactly, without a proof, as owner's (the upgrade window:
	// copies written before proofs existed). It is signed by the write Plan then asks for.
	AcceptUnproven bool
}

// Plan decides what to do with a destination given the object found there (nil when there is none; else its
// View, whose proof was checked when it was made).
func Plan(existing, desired client.Object, owner Owner, opts PlanOptions) Action {
	switch {
	case existing == nil:
		return ActionCreate
	case !owns(existing, owner, opts) && opts.Adopt && !ClaimsSomeOwner(existing):
		return ActionAdopt
	case !owns(existing, owner, opts):
		return ActionConflict
	case upToDate(existing, desired):
		return ActionNone
	case NeedsReplace(existing, desired):
		return ActionReplace
	}
	return ActionUpdate
}

// owns reports whether the object found at a destination is owner's copy: proven, or, in the upgrade window,
// claiming owner exactly.
func owns(existing client.Object, owner Owner, opts PlanOptions) bool {
	return IsOwnedBy(existing, owner) || (opts.AcceptUnproven && ClaimsExactly(existing, owner))
}

// NeedsReplace reports whether existing cannot be patched into desired: its Secret type differs, or it is
// immutable and its data or its immutability must change (the API server refuses either). An immutable copy whose
// data is up to date has only its metadata patched, in place.
func NeedsReplace(existing, desired client.Object) bool {
	if secretType(existing) != secretType(desired) {
		return true
	}
	return isImmutable(existing) && (hashOf(existing) != desired.GetAnnotations()[syncv1.ContentHashAnnotation] || !isImmutable(desired))
}

// upToDate reports whether existing holds desired's content, by the hash of its data (never by an annotation a
// user could set), carries desired's labels and annotations, and is signed with the current key. Labels and
// annotations other tools add to a copy are left alone rather than fought over.
func upToDate(existing, desired client.Object) bool {
	v, ok := existing.(*View)
	if !ok || v.Verdict != Proven || v.Hash() != desired.GetAnnotations()[syncv1.ContentHashAnnotation] ||
		v.Immutable != isImmutable(desired) {
		return false
	}
	return containsAll(existing.GetLabels(), desired.GetLabels(), "") &&
		containsAll(existing.GetAnnotations(), desired.GetAnnotations(), syncv1.OwnershipProofAnnotation)
}

// containsAll reports whether have holds every entry of want but the key skip.
func containsAll(have, want map[string]string, skip string) bool {
	for k, v := range want {
		if got, ok := have[k]; k != skip && (!ok || got != v) {
			return false
		}
	}
	return true
}

func secretType(obj client.Object) corev1.SecretType {
	switch o := obj.(type) {
	case *corev1.Secret:
		if o.Type == "" {
			return corev1.SecretTypeOpaque
		}
		return o.Type
	case *View:
		return o.SecretType()
	}
	return ""
}

// hashOf is the hash of the data obj holds: from a View, or computed.
func hashOf(obj client.Object) string {
	if v, ok := obj.(*View); ok {
		return v.Hash()
	}
	return HashOf(obj)
}

// sourceKeysOf is the SourceKeysAnnotation of a copy carrying labels and annotations from its source; "" for none.
func sourceKeysOf(labels, annotations map[string]string) string {
	if len(labels) == 0 && len(annotations) == 0 {
		return ""
	}
	return "labels=" + strings.Join(slices.Sorted(maps.Keys(labels)), ",") +
		";annotations=" + strings.Join(slices.Sorted(maps.Keys(annotations)), ",")
}

// parseSourceKeys returns the label and annotation keys a SourceKeysAnnotation lists.
func parseSourceKeys(value string) (labels, annotations []string) {
	for part := range strings.SplitSeq(value, ";") {
		name, keys, _ := strings.Cut(part, "=")
		var list []string
		if keys != "" {
			list = strings.Split(keys, ",")
		}
		switch name {
		case "labels":
			labels = list
		case "annotations":
			annotations = list
		}
	}
	return labels, annotations
}

// UpdatePatch returns the strategic merge patch that turns existing (a View) into desired while touching only what
// the operator owns: the data is replaced whole, the operator's labels and annotations and those copied from the
// source are set, the ones the source no longer has are removed, and everything else on the object (other tools'
// labels and annotations, finalizers, ownerReferences) is left as it is. The patch carries existing's
// resourceVersion, so it applies only to the object the plan was made from. Data already up to date is left out:
// an immutable copy gets its metadata patched in place.
func UpdatePatch(existing, desired client.Object) ([]byte, error) {
	labels := nullable(desired.GetLabels())
	annotations := nullable(desired.GetAnnotations())
	staleLabels, staleAnnotations := parseSourceKeys(existing.GetAnnotations()[syncv1.SourceKeysAnnotation])
	for _, k := range staleLabels {
		if _, ok := labels[k]; !ok {
			labels[k] = nil
		}
	}
	for _, k := range staleAnnotations {
		if _, ok := annotations[k]; !ok {
			annotations[k] = nil
		}
	}
	if _, ok := annotations[syncv1.SourceKeysAnnotation]; !ok {
		annotations[syncv1.SourceKeysAnnotation] = nil
	}
	patch := map[string]any{"metadata": map[string]any{
		"resourceVersion": existing.GetResourceVersion(), "labels": labels, "annotations": annotations,
	}}
	if hashOf(existing) != desired.GetAnnotations()[syncv1.ContentHashAnnotation] {
		filled := filledFields(existing)
		switch o := desired.(type) {
		case *corev1.ConfigMap:
			patch["data"] = replaced(o.Data, filled&fieldData != 0)
			patch["binaryData"] = replaced(o.BinaryData, filled&fieldBinaryData != 0)
		case *corev1.Secret:
			patch["data"] = replaced(o.Data, filled&fieldData != 0)
		}
	}
	if isImmutable(desired) {
		patch["immutable"] = true
	} else if isImmutable(existing) {
		patch["immutable"] = nil
	}
	return json.Marshal(patch)
}

// nullable copies a map of strings into a map whose values may be set to null.
func nullable(in map[string]string) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// replaced is the strategic-merge-patch value that makes a map field hold exactly in. A field the object has is
// replaced whole ($patch: replace); for a field it does not have, the API server would drop the whole value with
// the directive, so the map is sent as it is (or null when empty).
func replaced[V any](in map[string]V, exists bool) any {
	if !exists {
		if len(in) == 0 {
			return nil
		}
		return in
	}
	out := make(map[string]any, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	out["$patch"] = "replace"
	return out
}

// ReleasePatch is the merge patch that strips the operator's ownership from an object, its rotation record
// included: what the Orphan deletion policy leaves behind, an ordinary object the operator will not touch again.
// It serves the copies of a ConfigMapSync and the Secret of a ManagedSecret alike, and changes nothing else. The
// UID in the patch makes the API server refuse it for any other object of that name.
func ReleasePatch(uid types.UID) []byte {
	annotations := map[string]any{}
	for _, key := range []string{syncv1.OwnerAnnotation, syncv1.ContentHashAnnotation, syncv1.AdoptedAnnotation, syncv1.GeneratorsAnnotation,
		syncv1.LastRotationAnnotation, syncv1.RotationCountAnnotation, syncv1.RotationRequestAnnotation,
		syncv1.OwnershipProofAnnotation, syncv1.SourceKeysAnnotation, syncv1.ContentChangedAnnotation} {
		annotations[key] = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		"uid":         uid,
		"labels":      map[string]any{syncv1.ManagedByLabel: nil, syncv1.OwnerUIDLabel: nil},
		"annotations": annotations,
	}})
	return patch
}

// KeepOthersMetadata copies onto desired, a replacement of old, what others put on old: the labels and
// annotations that are neither the operator's nor copied from the source (old lists those in its
// SourceKeysAnnotation), and the ownerReferences.
func KeepOthersMetadata(old, desired client.Object) {
	staleLabels, staleAnnotations := parseSourceKeys(old.GetAnnotations()[syncv1.SourceKeysAnnotation])
	desired.SetLabels(withOthers(desired.GetLabels(), old.GetLabels(), staleLabels))
	desired.SetAnnotations(withOthers(desired.GetAnnotations(), old.GetAnnotations(), staleAnnotations))
	desired.SetOwnerReferences(slices.Clone(old.GetOwnerReferences()))
}

// withOthers returns mine plus the entries of theirs that are neither in mine, nor the operator's, nor listed in
// fromSource.
func withOthers(mine, theirs map[string]string, fromSource []string) map[string]string {
	out := maps.Clone(mine)
	for k, v := range theirs {
		if _, set := out[k]; set || operatorKey(k) || slices.Contains(fromSource, k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// operatorKey reports whether a label or annotation key is one the operator sets on what it writes.
func operatorKey(k string) bool {
	return k == syncv1.ManagedByLabel || strings.HasPrefix(k, "sync.configmapsync.io/")
}
