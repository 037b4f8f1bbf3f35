package configmapsync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/controllers/rollout"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// writeCopies brings the copy in every target namespace in line with the source, a few at a time (fewer for a
// large source), and returns what happened in each. What stands at each destination comes from the copy store:
// the operator's copy, or an object that only claims to be one, which Plan tells apart by its proof. owned holds
// the operator's copies, whose last content change a new copy inherits.
func (r *Reconciler) writeCopies(ctx context.Context, cms *syncv1.ConfigMapSync, src client.Object, content syncer.Content,
	namespaces []string, owned map[types.NamespacedName]client.Object) []destinationResult {
	owner := syncer.OwnerOf(cms)
	name := cms.CopyName()
	kind := string(cms.DestinationKind())
	opts := syncer.PlanOptions{
		Adopt:          cms.Spec.ConflictPolicy == syncv1.ConflictPolicyAdopt,
		AcceptUnproven: time.Now().Before(r.AcceptUnprovenUntil),
	}
	keys := r.Copies.Keys()
	since := contentSince(owned, name, content.Hash(), time.Now())
	results := make([]destinationResult, len(namespaces))
	lifecycle.FanOut(writesInFlight(r.MaxParallelWrites, content.Size()), len(namespaces), func(i int) {
		ns := namespaces[i]
		desired := syncer.Desired(src, content, ns, name, owner, keys)
		var existing client.Object
		if v := r.Copies.Get(kind, types.NamespacedName{Namespace: ns, Name: name}); v != nil {
			existing = v
		}
		// Stamped right before this destination's write, not at the start of a fan-out that may take a while.
		stampContentChange(desired, existing, since, time.Now())
		action, err := r.syncCopy(ctx, existing, desired, owner, opts)
		results[i] = destinationResult{namespace: ns, action: action, err: err}
		if err == nil {
			legacy := slices.Contains(cms.Status.PendingRollouts, ns)
			results[i].held, results[i].settling = heldCopy(existing, desired, action, kind, content.Hash(), legacy)
		}
	})
	return results
}

// stampContentChange records in desired when its content last changed (ContentChangedAnnotation), for the rollout
// engine: now when it replaces other content in an existing copy; the existing copy's record when the content stays
// (so an unchanged copy is not rewritten); and, for a new copy, since: a copy created where one was deleted or
// could not be replaced (or in a namespace that joins later) holds content that changed when its siblings' did,
// and the workloads there that predate that change are owed a restart like theirs. A ConfigMapSync whose content
// never changed records nothing, so its first copies restart nothing.
func stampContentChange(desired, existing client.Object, since, now time.Time) {
	switch {
	case existing == nil:
		syncer.SetContentChangedAt(desired, since)
	case existing.GetAnnotations()[syncv1.ContentHashAnnotation] != desired.GetAnnotations()[syncv1.ContentHashAnnotation]:
		syncer.SetContentChangedAt(desired, now)
	default:
		syncer.SetContentChangedAt(desired, syncer.ContentChangedAt(existing))
	}
}

// contentSince returns when the content of hash reached the copies named name: now when some copy still holds
// other content (this sync changes it), else the latest change recorded on those that hold it; zero when none
// records one. Copies being deleted do not count.
func contentSince(owned map[types.NamespacedName]client.Object, name, hash string, now time.Time) time.Time {
	var since time.Time
	for key, obj := range owned {
		if key.Name != name || obj.GetDeletionTimestamp() != nil {
			continue
		}
		if obj.GetAnnotations()[syncv1.ContentHashAnnotation] != hash {
			return now
		}
		if t := syncer.ContentChangedAt(obj); t.After(since) {
			since = t
		}
	}
	return since
}

// heldCopy returns the copy a destination holds after syncCopy, when it is the operator's and holds the content of
// hash: the one written (as the API server returned it), or the cached one when nothing needed writing. settling
// reports a copy this process wrote earlier that the cache does not show yet, when restarts may be owed for it:
// its UID is not known here, so the next look is soon (a copy whose content never changed owes nothing, and
// waits for nothing).
func heldCopy(existing, desired client.Object, action syncer.Action, kind, hash string, legacy bool) (held *rollout.Written, settling bool) {
	obj := desired
	switch action {
	case syncer.ActionConflict:
		return nil, false
	case syncer.ActionNone:
		obj = existing
		if existing == nil || existing.GetDeletionTimestamp() != nil || existing.GetAnnotations()[syncv1.ContentHashAnnotation] != hash {
			obj = nil
		}
	}
	if obj == nil {
		return nil, legacy || !syncer.ContentChangedAt(desired).IsZero()
	}
	c := rollout.WrittenOf(obj, kind, hash, legacy)
	return &c, false
}

// maxBytesInFlight bounds the bytes of copies one sync writes at once. Each write holds its copy's encoded request
// and decoded response: 16 writes of a 1 MiB CA bundle at once cost the operator some 64 MiB of transient memory
// for no gain in speed, since the API server and etcd take that data no faster.
const maxBytesInFlight = 8 << 20

// writesInFlight is how many copies of size bytes one sync writes at once: at most limit, and no more than
// maxBytesInFlight allows, but always one.
func writesInFlight(limit, size int) int {
	return max(1, min(limit, maxBytesInFlight/max(size, 1)))
}

// inParallel runs fn for 0..n-1 with at most r.MaxParallelWrites calls at a time.
func (r *Reconciler) inParallel(n int, fn func(i int)) { lifecycle.FanOut(r.MaxParallelWrites, n, fn) }

// syncCopy brings one destination in line with desired. existing is the view of the object the copy store holds
// there (labelled as the operator's, proven or not), or nil; opts says what the ConfigMapSync lets Plan take over.
func (r *Reconciler) syncCopy(ctx context.Context, existing, desired client.Object, owner syncer.Owner, opts syncer.PlanOptions) (syncer.Action, error) {
	if r.written.holds(desired, existing) {
		return syncer.ActionNone, nil // Written by this process already; the store has not caught up yet.
	}
	action := syncer.Plan(existing, desired, owner, opts)
	if action == syncer.ActionCreate {
		err := r.writer().Create(ctx, desired)
		if !apierrors.IsAlreadyExists(err) {
			return action, r.wrote(desired, action, err)
		}
		// The store only holds labelled objects, so the object in the way is either someone else's (invisible to
		// the store) or a copy the store has not seen yet: read it live to tell which.
		live := syncer.NewObject(lifecycle.KindName(desired))
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
			return action, fmt.Errorf("reading %s: %w", lifecycle.Describe(desired), err)
		}
		// Judged as the store judges: a view, its data hashed and its proof checked, so that no other rule decides
		// a live object.
		existing = r.Copies.View(live)
		action = syncer.Plan(existing, desired, owner, opts)
	}
	keepAdoption(existing, desired, action)
	switch {
	case action == syncer.ActionAdopt && !syncer.NeedsReplace(existing, desired), action == syncer.ActionUpdate:
		patch, err := syncer.UpdatePatch(existing, desired)
		if err != nil {
			return action, lifecycle.Described(action, desired, err)
		}
		return action, r.wrote(desired, action, r.writer().Patch(ctx, desired, patch))
	case action == syncer.ActionAdopt, action == syncer.ActionReplace:
		return action, r.wrote(desired, action, r.replace(ctx, existing, desired))
	}
	return action, nil
}

// replace deletes existing and creates desired in its place, for what cannot be patched: an immutable copy whose
// data changes, a Secret whose type changes. Only the exact object read is deleted, and only when the destination
// will not be left without a copy: not while another controller's finalizer holds the object (the delete could
// not complete, and the copy would be gone the moment the finalizer is), and not when the API server or an
// admission policy would refuse the new object (a server-side dry run, under a generated name since the old one
// still holds the name). What others put on the old object (labels, annotations, ownerReferences) goes onto the new.
func (r *Reconciler) replace(ctx context.Context, existing, desired client.Object) error {
	live := lifecycle.MetadataOf(lifecycle.KindName(desired))
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return err
	}
	if live.UID != existing.GetUID() {
		return fmt.Errorf("the object changed while it was being replaced; retrying")
	}
	if len(live.Finalizers) > 0 {
		return fmt.Errorf("it cannot be replaced while finalizers of another controller hold it (%s); the copy in place "+
			"is kept and replaced once they are removed", strings.Join(live.Finalizers, ", "))
	}
	syncer.KeepOthersMetadata(live, desired)
	probe := desired.DeepCopyObject().(client.Object)
	probe.SetName("")
	probe.SetGenerateName(desired.GetName() + "-")
	if err := r.Create(ctx, probe, client.DryRunAll); err != nil {
		return fmt.Errorf("the replacement would be refused, so the object in place is kept: %w", err)
	}
	uid, rv := live.UID, live.ResourceVersion
	err := r.Delete(ctx, live, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return r.writer().Create(ctx, desired)
}

// keepAdoption marks desired as adopted when action adopts existing, and keeps the mark of an earlier adoption.
func keepAdoption(existing, desired client.Object, action syncer.Action) {
	at := ""
	switch {
	case action == syncer.ActionAdopt:
		at = time.Now().UTC().Format(time.RFC3339)
	case existing != nil:
		at = existing.GetAnnotations()[syncv1.AdoptedAnnotation]
	}
	if at != "" {
		annotations := desired.GetAnnotations()
		annotations[syncv1.AdoptedAnnotation] = at
		desired.SetAnnotations(annotations)
	}
}

// Writer creates and patches copies and sets their metadata to the API server's answer. internal/metawrite's
// reads back only the metadata, not the MiB of data a copy may hold.
type Writer interface {
	Create(ctx context.Context, obj client.Object) error
	// Patch applies a strategic merge patch to the object obj names.
	Patch(ctx context.Context, obj client.Object, patch []byte) error
}

// copyWriter returns r.Writer, or the manager's client when none is set (unit tests).
func (r *Reconciler) writer() Writer {
	if r.Writer != nil {
		return r.Writer
	}
	return clientWriter{r.Client}
}

// clientWriter writes copies with a controller-runtime client, which decodes the whole answer.
type clientWriter struct{ client.Client }

func (w clientWriter) Create(ctx context.Context, obj client.Object) error {
	return w.Client.Create(ctx, obj)
}
func (w clientWriter) Patch(ctx context.Context, obj client.Object, patch []byte) error {
	return w.Client.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch))
}

// wrote counts a write to a copy and wraps its error with what was written. Errors name the object, never its data.
func (r *Reconciler) wrote(obj client.Object, action syncer.Action, err error) error {
	if err != nil {
		r.written.forget(obj)
		return lifecycle.Described(action, obj, err)
	}
	switch action {
	case syncer.ActionCreate, syncer.ActionUpdate, syncer.ActionReplace:
		r.written.record(obj, func() client.Object {
			if v := r.Copies.Cached(lifecycle.KindName(obj), client.ObjectKeyFromObject(obj)); v != nil {
				return v
			}
			return nil // Not a nil *View in an interface.
		})
	default:
		r.written.forget(obj)
	}
	metrics.CopyWrites.WithLabelValues(lifecycle.KindName(obj), string(action)).Inc()
	return nil
}

// deleteCopy deletes one of the operator's copies; a copy already gone is fine.
func (r *Reconciler) deleteCopy(ctx context.Context, obj client.Object) error {
	return r.wrote(obj, "Delete", lifecycle.DeleteOwned(ctx, r.Client, obj))
}

// releaseCopy strips the operator's ownership from a copy and leaves its data (deletionPolicy Orphan).
func (r *Reconciler) releaseCopy(ctx context.Context, obj client.Object) error {
	return r.wrote(obj, "Release", lifecycle.Release(ctx, r.Client, obj))
}
