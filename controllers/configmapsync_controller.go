// Package controllers holds one thin reconciler per kind; the sync rules themselves live in internal/syncer.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/internal/metawatch"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// ConfigMapSyncReconciler keeps the source of each ConfigMapSync copied into its destination namespaces.
type ConfigMapSyncReconciler struct {
	client.Client
	// APIReader reads uncached: sources (the manager's cache holds only the operator's own copies, so that its
	// memory does not grow with every ConfigMap and Secret in the cluster) and, at deletion, the copies to clean up.
	APIReader client.Reader
	// Metadata caches the metadata of Namespaces (to resolve selectors) and workloads (rollout opt-ins). Sources
	// are not cached at all: their changes arrive through store-less metadata watches (internal/metawatch).
	Metadata cache.Cache
	// Sources notifies of ConfigMap and Secret changes (internal/metawatch), shared with the ManagedSecret controller.
	Sources  *metawatch.Watches
	Recorder recorder.EventRecorder
	// Writer creates and updates copies; nil writes them with Client.
	Writer CopyWriter
	// FanOut bounds how many copies one sync writes in parallel.
	FanOut int
	// ExcludedNamespaces holds names and globs of namespaces no ConfigMapSync may write to, whatever it asks
	// (--excluded-namespaces).
	ExcludedNamespaces []string
	// SourceCacheBytes bounds the memory of the sources kept between syncs while the source watch shows them
	// unchanged (sourceCache); 0 keeps none and reads every source at every sync.
	SourceCacheBytes int
	// Access re-checks at every sync the rights of the user who asked for each ConfigMapSync
	// (configmapsync_access.go); nil checks nothing (unit tests).
	Access *access.Reviewer

	// written remembers this process's writes of copies until the cache has seen them.
	written writtenCopies
	// finalized remembers the ConfigMapSyncs this process cleaned up, whose late copies are orphans.
	finalized finalizedUIDs
	// sourceCache keeps small sources between syncs; nil without SourceCacheBytes.
	sourceCache *sourceCache
}

// maxCachedSource is the largest source kept between syncs: a settings file, not a CA bundle of a MiB.
const maxCachedSource = 64 << 10

// RBAC, least privilege; each rule says why:
// Watch ConfigMapSyncs, and patch them to add and remove the cleanup finalizer.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs,verbs=get;list;watch;patch
// Report conditions, counts and per-destination state.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs/status,verbs=get;update;patch
// Set finalizers where the OwnerReferencesPermissionEnforcement admission plugin runs.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs/finalizers,verbs=update
// Read sources (any namespace), watch their metadata, and create, update, replace, prune and release copies.
// Every sync is authorized against the requesting user's own rights by the validating webhook.
// +kubebuilder:rbac:groups="",resources=configmaps;secrets,verbs=get;list;watch;create;update;patch;delete
// Resolve namespace selectors and skip namespaces being deleted (metadata only).
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// Record Warning events on ConfigMapSyncs.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings the copies of one ConfigMapSync in line with its source, or cleans them up when it is deleted.
func (r *ConfigMapSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return reconcileObject(ctx, r.Client, req, &syncv1.ConfigMapSync{}, r)
}

// gone clears the metrics of a ConfigMapSync that no longer exists and deletes the copies seen only after its
// cleanup (deleteOrphans).
func (r *ConfigMapSyncReconciler) gone(ctx context.Context, key types.NamespacedName) error {
	metrics.SetCopies(key, "", 0)
	return r.deleteOrphans(ctx, key)
}

// reconcileNormal syncs the copies when the strategy says so, restarts the workloads that need it, and schedules
// the next resync.
func (r *ConfigMapSyncReconciler) reconcileNormal(ctx context.Context, before, cms *syncv1.ConfigMapSync) (ctrl.Result, error) {
	var changes []copyChange
	if syncDue(cms) {
		start := time.Now()
		out, err := r.sync(ctx, cms)
		recordStatus(cms, out, err, time.Now())
		emitConditionEvents(r.Recorder, before, cms, "Sync")
		emitKeysEvent(r.Recorder, before, cms)
		emitAdoptions(r.Recorder, cms, out)
		logOutcome(ctx, out)
		recordSyncMetrics(cms, out, err, time.Since(start))
		if err != nil {
			return ctrl.Result{}, err
		}
		changes = out.changes
	}

	wait, err := r.rollOuts(ctx, cms, changes)
	if err != nil {
		return ctrl.Result{}, err
	}
	var result ctrl.Result
	if cms.Spec.SyncStrategy != syncv1.SyncStrategyManual {
		if result.RequeueAfter, err = cms.SyncPeriod(); err != nil {
			return ctrl.Result{}, syncer.InvalidSpec("%v", err) // checked by sync already; never dropped
		}
	}
	if wait > 0 && (result.RequeueAfter == 0 || wait < result.RequeueAfter) {
		result.RequeueAfter = wait
	}
	return result, nil
}

// rollOuts restarts the workloads using the copies that changed in this sync, and those whose restart was
// debounced earlier (status.pendingRollouts, so a restart of the operator loses none). It returns when the next
// debounced restart is due.
func (r *ConfigMapSyncReconciler) rollOuts(ctx context.Context, cms *syncv1.ConfigMapSync, changes []copyChange) (time.Duration, error) {
	if len(cms.Status.PendingRollouts) > 0 {
		pending, err := r.pendingChanges(ctx, cms, changes)
		if err != nil {
			return 0, err
		}
		changes = append(changes, pending...)
	}
	var wait time.Duration
	var waiting []string
	now := time.Now()
	for _, c := range changes {
		left, err := r.rollouts().rollOut(ctx, cms.EffectiveRollout(), c, now)
		if err != nil {
			return 0, err
		}
		if left > 0 {
			waiting = append(waiting, c.namespace)
			if wait == 0 || left < wait {
				wait = left
			}
		}
	}
	slices.Sort(waiting)
	waiting = slices.Compact(waiting)
	if len(waiting) > maxPendingRollouts {
		waiting = waiting[:maxPendingRollouts]
	}
	cms.Status.PendingRollouts = waiting
	return wait, nil
}

// rollouts returns the rollout engine with the reconciler's clients.
func (r *ConfigMapSyncReconciler) rollouts() rollouts {
	return rollouts{patcher: r.Client, reader: r.APIReader, metadata: r.Metadata}
}

// maxPendingRollouts bounds status.pendingRollouts.
const maxPendingRollouts = 100

// pendingChanges rebuilds the changes of the namespaces in status.pendingRollouts from the operator's copies.
func (r *ConfigMapSyncReconciler) pendingChanges(ctx context.Context, cms *syncv1.ConfigMapSync, already []copyChange) ([]copyChange, error) {
	kind := string(cms.SourceKind())
	owned, err := r.ownedCopies(ctx, cms, kind)
	if err != nil {
		return nil, err
	}
	var out []copyChange
	for key, obj := range owned {
		if !slices.Contains(cms.Status.PendingRollouts, key.Namespace) ||
			slices.ContainsFunc(already, func(c copyChange) bool { return c.namespace == key.Namespace }) {
			continue
		}
		out = append(out, copyChange{namespace: key.Namespace, kind: kind, name: key.Name,
			token: syncer.RolloutToken(obj.GetUID(), obj.GetAnnotations()[syncv1.ContentHashAnnotation])})
	}
	return out, nil
}

// syncDue reports whether this reconcile should sync. Automatic syncs always; Manual only for a new or changed
// spec (observedGeneration lags) or a new sync-now request.
func syncDue(cms *syncv1.ConfigMapSync) bool {
	if cms.Spec.SyncStrategy != syncv1.SyncStrategyManual {
		return true
	}
	request := cms.Annotations[syncv1.SyncNowAnnotation]
	// A source missing at the last sync is copied as soon as it appears, as the SourceNotFound message promises.
	return cms.Status.ObservedGeneration != cms.Generation ||
		cms.Status.SyncStatus == syncv1.SyncStatusSourceNotFound ||
		(request != "" && request != cms.Status.LastHandledSyncRequest)
}

// outcome is what one sync found and did.
type outcome struct {
	kind          string
	sourceMissing bool
	destinations  []destinationResult
	// missing lists listed namespaces that do not exist yet.
	missing []string
	// excluded lists listed namespaces that an exclusion leaves out.
	excluded []string
	// keys is what selecting spec.source.keys found; nil when the source was not read.
	keys *syncer.KeyReport
	// writes counts the copies created, updated, replaced or pruned.
	writes int
	// copies counts the copies that exist after the sync.
	copies int
	// changes lists the copies whose content changed, for rollouts.
	changes []copyChange
	// access is what re-checking the requester's rights found.
	access accessCheck
	// kept lists the namespaces no longer wanted whose copies are kept because the requester may not delete them.
	kept []destinationResult
}

type destinationResult struct {
	namespace string
	action    syncer.Action
	err       error
	// change is set when an existing copy's content changed.
	change *copyChange
	// forbidden lists the permissions the requester lacks there; nothing was written.
	forbidden []authorizationv1.ResourceAttributes
	// stale marks a namespace that is no longer a destination, whose copy is kept (forbidden is set).
	stale bool
}

// sync reads the source and brings every destination in line with it. A missing source is not an error: copies
// are kept (a missing source is no reason to delete data) and the source watch resumes the sync when it returns.
func (r *ConfigMapSyncReconciler) sync(ctx context.Context, cms *syncv1.ConfigMapSync) (outcome, error) {
	out := outcome{kind: string(cms.SourceKind())}
	if err := checkTimings(cms); err != nil {
		return out, err
	}
	var err error
	if out.access, err = r.checkAccess(ctx, cms); err != nil || len(out.access.source) > 0 {
		return out, err // A source the requester may no longer read is neither read nor copied; copies are kept.
	}
	src, content, err := r.readSource(ctx, copyKey{kind: out.kind, NamespacedName: types.NamespacedName{
		Namespace: cms.SourceNamespace(), Name: cms.Spec.Source.Name}})
	if apierrors.IsNotFound(err) {
		out.sourceMissing = true
		return out, nil
	}
	if err != nil {
		return out, err
	}
	content, keys := syncer.SelectKeys(content, cms.Spec.Source.Keys)
	out.keys = &keys

	targets, err := r.resolveTargets(ctx, cms)
	if err != nil {
		return out, err
	}
	out.missing, out.excluded = targets.Missing, targets.Excluded
	owned, err := r.ownedCopies(ctx, cms, out.kind)
	if err != nil {
		return out, err
	}

	name := cms.CopyName()
	allowed, forbidden := out.access.splitAllowed(targets.Namespaces)
	out.destinations = append(r.writeCopies(ctx, cms, src, content, allowed, owned), forbidden...)
	keep := make(map[types.NamespacedName]bool, len(targets.Namespaces))
	for _, ns := range targets.Namespaces {
		keep[types.NamespacedName{Namespace: ns, Name: name}] = true
	}
	// Prune what is no longer wanted: namespaces that stopped matching or were unlisted, and the old name after a
	// rename. Found by label in the cache, not remembered, so a restart loses nothing.
	var stale []client.Object
	for key, obj := range owned {
		if !keep[key] {
			stale = append(stale, obj)
		}
	}
	if stale, out.kept, err = r.prunable(ctx, cms, out.access, stale); err != nil {
		return out, err
	}
	pruneErrs := make([]error, len(stale))
	r.fanOut(len(stale), func(i int) { pruneErrs[i] = r.deleteCopy(ctx, stale[i]) })
	return out, out.tally(pruneErrs)
}

// writeCopies brings the copy in every target namespace in line with the source, a few at a time (fewer for a
// large source), and returns what happened in each. owned holds the operator's cached copies.
func (r *ConfigMapSyncReconciler) writeCopies(ctx context.Context, cms *syncv1.ConfigMapSync, src client.Object, content syncer.Content,
	namespaces []string, owned map[types.NamespacedName]client.Object) []destinationResult {
	owner := syncer.OwnerOf(cms)
	name := cms.CopyName()
	kind := string(cms.SourceKind())
	results := make([]destinationResult, len(namespaces))
	fanOut(writesInFlight(r.FanOut, content.Size()), len(namespaces), func(i int) {
		ns := namespaces[i]
		desired := syncer.Desired(src, content, ns, name, owner)
		existing := owned[types.NamespacedName{Namespace: ns, Name: name}]
		action, err := r.syncCopy(ctx, existing, desired, owner, cms.Spec.ConflictPolicy == syncv1.ConflictPolicyAdopt)
		results[i] = destinationResult{namespace: ns, action: action, err: err}
		if err == nil && contentChanged(existing, action, content.Hash()) {
			results[i].change = &copyChange{namespace: ns, kind: kind, name: name,
				token: syncer.RolloutToken(desired.GetUID(), content.Hash())}
		}
	})
	return results
}

// tally counts the copies and writes of a sync from its destinations and prunes, collects the changed copies,
// and returns the sync's errors, classified.
func (out *outcome) tally(pruneErrs []error) error {
	errs := make([]error, 0, len(out.destinations)+len(pruneErrs))
	for _, d := range out.destinations {
		if d.err == nil && d.action != syncer.ActionConflict && d.forbidden == nil {
			out.copies++
		}
		if d.action != syncer.ActionNone && d.action != syncer.ActionConflict && d.err == nil {
			out.writes++
		}
		errs = append(errs, d.err)
		if d.change != nil {
			out.changes = append(out.changes, *d.change)
		}
	}
	for _, err := range pruneErrs {
		if err == nil {
			out.writes++
		}
		errs = append(errs, err)
	}
	return classifyAll(errs)
}

// readSource returns a source and its content: kept from an earlier sync when the source watch shows it
// unchanged, else read live. A source whose content cannot be copied is a terminal error.
func (r *ConfigMapSyncReconciler) readSource(ctx context.Context, key copyKey) (client.Object, syncer.Content, error) {
	if src, content, ok := r.sourceCache.get(key); ok {
		return src, content, nil
	}
	src := syncer.NewObject(key.kind)
	if err := r.APIReader.Get(ctx, key.NamespacedName, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, syncer.Content{}, err
		}
		return nil, syncer.Content{}, fmt.Errorf("reading source %s %s: %w", key.kind, key.NamespacedName, err)
	}
	content, err := syncer.ContentOf(src)
	if err != nil {
		return nil, syncer.Content{}, reconcile.TerminalError(err)
	}
	r.sourceCache.put(key, src, content)
	return src, content, nil
}

// contentChanged reports whether a write replaced the content of an existing copy (a new copy has no consumers
// that need restarting).
func contentChanged(existing client.Object, action syncer.Action, hash string) bool {
	if existing == nil || (action != syncer.ActionUpdate && action != syncer.ActionReplace) {
		return false
	}
	return existing.GetAnnotations()[syncv1.ContentHashAnnotation] != hash
}

// fanOut runs fn for 0..n-1 with at most r.FanOut calls at a time.
func (r *ConfigMapSyncReconciler) fanOut(n int, fn func(i int)) { fanOut(r.FanOut, n, fn) }

// maxBytesInFlight bounds the bytes of copies one sync writes at once. Each write holds its copy's encoded request
// and decoded response: 16 writes of a 1 MiB CA bundle at once cost the operator some 64 MiB of transient memory
// for no gain in speed, since the API server and etcd take that data no faster.
const maxBytesInFlight = 8 << 20

// writesInFlight is how many copies of size bytes one sync writes at once: at most limit, and no more than
// maxBytesInFlight allows, but always one.
func writesInFlight(limit, size int) int {
	return max(1, min(limit, maxBytesInFlight/max(size, 1)))
}

// recordSyncMetrics updates the metrics for one sync.
func recordSyncMetrics(cms *syncv1.ConfigMapSync, out outcome, err error, took time.Duration) {
	result := metrics.ResultSuccess
	switch {
	case err != nil:
		result = metrics.ResultError
	case meta.IsStatusConditionFalse(cms.Status.Conditions, syncv1.ReadyCondition):
		result = metrics.ResultPartial
	default:
		metrics.SyncSucceeded()
	}
	metrics.SyncDuration.WithLabelValues(out.kind, result).Observe(took.Seconds())
	if !out.sourceMissing && len(out.access.source) == 0 {
		metrics.SetCopies(client.ObjectKeyFromObject(cms), out.kind, out.copies)
	}
	for _, d := range out.destinations {
		switch {
		case d.err != nil:
			metrics.SyncErrors.WithLabelValues(errorReason(d.err)).Inc()
		case d.action == syncer.ActionConflict:
			metrics.SyncErrors.WithLabelValues("Conflict").Inc()
		}
	}
}

// errorReason maps an error to a small fixed set of metric label values.
func errorReason(err error) string {
	if isPermanent(err) {
		return "Permanent"
	}
	if reason := apierrors.ReasonForError(err); reason != metav1.StatusReasonUnknown {
		return string(reason)
	}
	return "Other"
}

// checkTimings checks the durations of the spec, which the schema bounds only by pattern: an object that slipped
// past the webhook stalls with the field and the rule named instead of syncing on a made-up schedule.
func checkTimings(cms *syncv1.ConfigMapSync) error {
	_, err := cms.SyncPeriod()
	_, debounceErr := cms.EffectiveRollout().DebouncePeriod()
	if err = errors.Join(err, debounceErr); err != nil {
		return syncer.InvalidSpec("%v", err)
	}
	return nil
}
