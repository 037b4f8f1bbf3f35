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
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
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
	// Writer creates and patches copies; nil writes them with Client.
	Writer CopyWriter
	// Copies holds the views of the objects labelled as the operator's, their data hashed and proofs checked.
	Copies *copystore.Store
	// AcceptUnprovenUntil ends the upgrade window: until then, an object without a proof that claims a
	// ConfigMapSync exactly, at one of its destinations, is taken as its copy and signed (ownership.Keys).
	AcceptUnprovenUntil time.Time
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
	// unproven remembers the objects last reported as claiming each ConfigMapSync without a proof.
	unproven unprovenReports
	// sourceCache keeps small sources between syncs; nil without SourceCacheBytes.
	sourceCache *sourceCache
	// workloads remembers what the rollout engine read of workloads' pod templates.
	workloads workloadMemo
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
	metrics.SetUnproven(key, "", 0)
	return r.deleteOrphans(ctx, key)
}

// reconcileNormal syncs the copies when the strategy says so, restarts the workloads owed a restart, and
// schedules the next resync. The rollout pass runs whatever the sync's outcome: a copy that could not be written
// in one namespace never holds back the restarts owed in the others.
func (r *ConfigMapSyncReconciler) reconcileNormal(ctx context.Context, before, cms *syncv1.ConfigMapSync) (ctrl.Result, error) {
	var out *outcome
	var syncErr error
	if syncDue(cms) {
		start := time.Now()
		o, err := r.sync(ctx, cms)
		recordStatus(cms, o, err, time.Now())
		emitConditionEvents(r.Recorder, before, cms, "Sync")
		emitKeysEvent(r.Recorder, before, cms)
		emitAdoptions(r.Recorder, cms, o)
		r.reportUnproven(cms, o.kind, o.unproven)
		logOutcome(ctx, o)
		recordSyncMetrics(cms, o, err, time.Since(start))
		out, syncErr = &o, err
	}

	wait, rolloutErr := r.rollOuts(ctx, cms, out)
	if err := joinRolloutError(syncErr, rolloutErr); err != nil {
		return ctrl.Result{}, err
	}
	var result ctrl.Result
	if cms.Spec.SyncStrategy != syncv1.SyncStrategyManual {
		var err error
		if result.RequeueAfter, err = cms.SyncPeriod(); err != nil {
			return ctrl.Result{}, syncer.InvalidSpec("%v", err) // checked by sync already; never dropped
		}
	}
	if wait > 0 && (result.RequeueAfter == 0 || wait < result.RequeueAfter) {
		result.RequeueAfter = wait
	}
	return result, nil
}

// joinRolloutError joins the errors of a sync and of its rollout pass. A failed restart is worth retrying even when
// the sync failed for good: the sync's terminal error then joins without its terminal mark, so the reconcile is
// retried with backoff instead of waiting for the next change.
func joinRolloutError(syncErr, rolloutErr error) error {
	if rolloutErr == nil {
		return syncErr
	}
	if errors.Is(rolloutErr, reconcile.TerminalError(nil)) {
		return errors.Join(syncErr, rolloutErr) // The rollout policy itself is invalid: nothing to retry.
	}
	if syncErr != nil && errors.Is(syncErr, reconcile.TerminalError(nil)) {
		if inner := errors.Unwrap(syncErr); inner != nil {
			syncErr = inner
		}
	}
	return errors.Join(syncErr, rolloutErr)
}

// rollOuts restarts the workloads owed a restart for the current content of the ConfigMapSync's copies, in every
// namespace where the copy is the operator's and up to date (see rollout.go), and records the namespaces whose
// restarts wait for the debounce window in status.pendingRollouts, for information. It returns when the next
// debounced restart is due, or a short delay while copies this process wrote are not in the cache yet.
func (r *ConfigMapSyncReconciler) rollOuts(ctx context.Context, cms *syncv1.ConfigMapSync, out *outcome) (time.Duration, error) {
	copies, settling, err := r.copiesToRollOut(cms, out)
	if err != nil {
		return 0, err
	}
	pass := r.rollouts().run(ctx, cms.EffectiveRollout(), copies, time.Now())
	reportRolloutFailures(r.Recorder, cms, pass)
	if len(pass.pending) > maxPendingRollouts {
		pass.pending = pass.pending[:maxPendingRollouts]
	}
	cms.Status.PendingRollouts = pass.pending
	wait := pass.wait
	if settling && (wait == 0 || wait > settleDelay) {
		wait = settleDelay
	}
	return wait, pass.err
}

// settleDelay is how long the rollout pass waits for the cache to show a copy this process has just written
// before it looks again: the events of the operator's own writes wake nobody.
const settleDelay = time.Second

// rollouts returns the rollout engine with the reconciler's clients.
func (r *ConfigMapSyncReconciler) rollouts() rollouts {
	return rollouts{patcher: r.Client, reader: r.APIReader, metadata: r.Metadata, workloads: &r.workloads}
}

// maxPendingRollouts bounds status.pendingRollouts.
const maxPendingRollouts = 100

// copiesToRollOut returns the copies whose consumers the rollout pass checks. When this reconcile's sync reached
// the destinations, those are the copies it found or wrote up to date with the source; a destination whose copy
// could not be written, or that belongs to someone else, has none. Otherwise (a Manual ConfigMapSync between
// syncs, a sync that failed before the destinations or found no source) they are the operator's copies in the
// cache, as they are. settling reports a copy this process wrote that the cache does not show yet.
func (r *ConfigMapSyncReconciler) copiesToRollOut(cms *syncv1.ConfigMapSync, out *outcome) (copies []copyState, settling bool, err error) {
	if out != nil && out.reached {
		for _, d := range out.destinations {
			if d.held != nil {
				copies = append(copies, *d.held)
			}
			settling = settling || d.settling
		}
		return copies, settling, nil
	}
	kind := string(cms.SourceKind())
	owned, _, err := r.ownedCopies(cms, kind)
	if err != nil {
		return nil, false, err
	}
	for key, obj := range owned {
		if key.Name == cms.CopyName() && obj.GetDeletionTimestamp() == nil {
			copies = append(copies, copyStateOf(obj, kind, obj.GetAnnotations()[syncv1.ContentHashAnnotation],
				slices.Contains(cms.Status.PendingRollouts, key.Namespace)))
		}
	}
	return copies, false, nil
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
	// unproven lists the objects that claim the ConfigMapSync without a proof and were left alone.
	unproven []client.Object
	// reached says the sync got as far as the destinations.
	reached bool
	// access is what re-checking the requester's rights found.
	access accessCheck
	// kept lists the namespaces no longer wanted whose copies are kept because the requester may not delete them.
	kept []destinationResult
}

type destinationResult struct {
	namespace string
	action    syncer.Action
	err       error
	// held is the copy the destination holds after the sync, when it is the operator's and up to date.
	held *copyState
	// settling means the copy is up to date, written by this process, and not in the cache yet.
	settling bool
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
	owned, unproven, err := r.ownedCopies(cms, out.kind)
	if err != nil {
		return out, err
	}

	name := cms.CopyName()
	allowed, forbidden := out.access.splitAllowed(targets.Namespaces)
	out.destinations = append(r.writeCopies(ctx, cms, src, content, allowed, owned), forbidden...)
	out.reached = true
	keep := make(map[types.NamespacedName]bool, len(targets.Namespaces))
	for _, ns := range targets.Namespaces {
		keep[types.NamespacedName{Namespace: ns, Name: name}] = true
	}
	out.unproven = unproven
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
// large source), and returns what happened in each. What stands at each destination comes from the copy store:
// the operator's copy, or an object that only claims to be one, which Plan tells apart by its proof. owned holds
// the operator's copies, whose last content change a new copy inherits.
func (r *ConfigMapSyncReconciler) writeCopies(ctx context.Context, cms *syncv1.ConfigMapSync, src client.Object, content syncer.Content,
	namespaces []string, owned map[types.NamespacedName]client.Object) []destinationResult {
	owner := syncer.OwnerOf(cms)
	name := cms.CopyName()
	kind := string(cms.SourceKind())
	opts := syncer.PlanOptions{
		Adopt:          cms.Spec.ConflictPolicy == syncv1.ConflictPolicyAdopt,
		AcceptUnproven: time.Now().Before(r.AcceptUnprovenUntil),
	}
	keys := r.Copies.Keys()
	since := contentSince(owned, name, content.Hash(), time.Now())
	results := make([]destinationResult, len(namespaces))
	fanOut(writesInFlight(r.FanOut, content.Size()), len(namespaces), func(i int) {
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
func heldCopy(existing, desired client.Object, action syncer.Action, kind, hash string, legacy bool) (held *copyState, settling bool) {
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
	c := copyStateOf(obj, kind, hash, legacy)
	return &c, false
}

// tally counts the copies and writes of a sync from its destinations and prunes, and returns the sync's errors,
// classified.
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
