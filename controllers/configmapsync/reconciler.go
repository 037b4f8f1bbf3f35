// Package configmapsync owns the ConfigMapSync reconciler: reading the source (source.go), re-checking the
// requester's rights (access.go), resolving the destinations and the operator's copies there (targets.go), writing
// and pruning copies (copies.go), cleaning them up at deletion (delete.go), the status, events and metrics of a sync
// (status.go) and the watches that wake it (setup.go). The shape of a reconcile (finalizer, one status patch,
// conditions) is controllers/lifecycle's, restarts are controllers/rollout's, and the rules of what a copy must be
// are internal/syncer's pure functions. Its exported surface is what the wiring (internal/operator) builds: the
// Reconciler and the Writer of copies.
package configmapsync

import (
	"context"
	"errors"
	"slices"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/controllers/rollout"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/metawatch"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Reconciler keeps the source of each ConfigMapSync copied into its destination namespaces.
type Reconciler struct {
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
	Writer Writer
	// Copies holds the views of the objects labelled as the operator's, their data hashed and proofs checked.
	Copies *copystore.Store
	// AcceptUnprovenUntil ends the upgrade window: until then, an object without a proof that claims a
	// ConfigMapSync exactly, at one of its destinations, is taken as its copy and signed (ownership.Keys).
	AcceptUnprovenUntil time.Time
	// MaxParallelWrites bounds how many copies one sync writes in parallel.
	MaxParallelWrites int
	// ExcludedNamespaces holds names and globs of namespaces no ConfigMapSync may write to, whatever it asks
	// (--excluded-namespaces).
	ExcludedNamespaces []string
	// SourceCacheBytes bounds the memory of the sources kept between syncs while the source watch shows them
	// unchanged (sourceCache); 0 keeps none and reads every source at every sync.
	SourceCacheBytes int
	// Access re-checks at every sync the rights of the user who asked for each ConfigMapSync
	// (access.go); nil checks nothing (unit tests).
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
	workloads rollout.Memo
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
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return lifecycle.Reconcile(ctx, r.Client, req, &syncv1.ConfigMapSync{}, lifecycle.Steps[*syncv1.ConfigMapSync]{
		Normal: r.reconcileNormal, Delete: r.reconcileDelete, Gone: r.gone,
	})
}

// gone clears the metrics of a ConfigMapSync that no longer exists and deletes the copies seen only after its
// cleanup (deleteOrphans).
func (r *Reconciler) gone(ctx context.Context, key types.NamespacedName) error {
	metrics.SetCopies(key, "", 0)
	metrics.SetUnproven(key, "", 0)
	return r.deleteOrphans(ctx, key)
}

// reconcileNormal syncs the copies when the strategy says so, restarts the workloads owed a restart, and
// schedules the next resync. The rollout pass runs whatever the sync's outcome: a copy that could not be written
// in one namespace never holds back the restarts owed in the others.
func (r *Reconciler) reconcileNormal(ctx context.Context, before, cms *syncv1.ConfigMapSync) (ctrl.Result, error) {
	var out *outcome
	var syncErr error
	if syncDue(cms) {
		start := time.Now()
		o, err := r.sync(ctx, cms)
		recordStatus(cms, o, err, time.Now())
		lifecycle.EmitConditionEvents(r.Recorder, before, cms, "Sync")
		emitKeysEvent(r.Recorder, before, cms)
		emitAdoptions(r.Recorder, cms, o)
		r.reportUnproven(cms, o.kind, o.unproven)
		logOutcome(ctx, o)
		recordSyncMetrics(cms, o, err, time.Since(start))
		out, syncErr = &o, err
	}

	wait, rolloutErr := r.restartConsumers(ctx, cms, out)
	if err := rollout.JoinError(syncErr, rolloutErr); err != nil {
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

// restartConsumers restarts the workloads owed a restart for the current content of the ConfigMapSync's copies, in every
// namespace where the copy is the operator's and up to date (controllers/rollout), and records the namespaces whose
// restarts wait for the debounce window in status.pendingRollouts, for information. It returns when the next
// debounced restart is due, or a short delay while copies this process wrote are not in the cache yet.
func (r *Reconciler) restartConsumers(ctx context.Context, cms *syncv1.ConfigMapSync, out *outcome) (time.Duration, error) {
	copies, settling, err := r.upToDateCopies(cms, out)
	if err != nil {
		return 0, err
	}
	pass := r.rolloutEngine().Run(ctx, cms.EffectiveRollout(), copies, time.Now())
	rollout.ReportFailures(r.Recorder, cms, pass)
	if len(pass.Pending) > maxPendingRollouts {
		pass.Pending = pass.Pending[:maxPendingRollouts]
	}
	cms.Status.PendingRollouts = pass.Pending
	wait := pass.Wait
	if settling && (wait == 0 || wait > settleDelay) {
		wait = settleDelay
	}
	return wait, pass.Err
}

// settleDelay is how long the rollout pass waits for the cache to show a copy this process has just written
// before it looks again: the events of the operator's own writes wake nobody.
const settleDelay = time.Second

// rolloutEngine returns the rollout engine with the reconciler's clients.
func (r *Reconciler) rolloutEngine() rollout.Engine {
	return rollout.Engine{Patcher: r.Client, Reader: r.APIReader, Metadata: r.Metadata, Workloads: &r.workloads}
}

// maxPendingRollouts bounds status.pendingRollouts.
const maxPendingRollouts = 100

// upToDateCopies returns the copies whose consumers the rollout pass checks. When this reconcile's sync reached
// the destinations, those are the copies it found or wrote up to date with the source; a destination whose copy
// could not be written, or that belongs to someone else, has none. Otherwise (a Manual ConfigMapSync between
// syncs, a sync that failed before the destinations or found no source) they are the operator's copies in the
// cache, as they are. settling reports a copy this process wrote that the cache does not show yet.
func (r *Reconciler) upToDateCopies(cms *syncv1.ConfigMapSync, out *outcome) (copies []rollout.Written, settling bool, err error) {
	if out != nil && out.reached {
		for _, d := range out.destinations {
			if d.held != nil {
				copies = append(copies, *d.held)
			}
			settling = settling || d.settling
		}
		return copies, settling, nil
	}
	kind := string(cms.DestinationKind())
	owned, _, err := r.ownedCopies(cms, kind)
	if err != nil {
		return nil, false, err
	}
	for key, obj := range owned {
		if key.Name == cms.CopyName() && obj.GetDeletionTimestamp() == nil {
			copies = append(copies, rollout.WrittenOf(obj, kind, obj.GetAnnotations()[syncv1.ContentHashAnnotation],
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
	// kind is the kind of the copies.
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
	held *rollout.Written
	// settling means the copy is up to date, written by this process, and not in the cache yet.
	settling bool
	// forbidden lists the permissions the requester lacks there; nothing was written.
	forbidden []authorizationv1.ResourceAttributes
	// stale marks a namespace that is no longer a destination, whose copy is kept (forbidden is set).
	stale bool
}

// sync reads the source and brings every destination in line with it. A missing source is not an error: copies
// are kept (a missing source is no reason to delete data) and the source watch resumes the sync when it returns.
func (r *Reconciler) sync(ctx context.Context, cms *syncv1.ConfigMapSync) (outcome, error) {
	out := outcome{kind: string(cms.DestinationKind())}
	if err := errors.Join(checkTimings(cms), checkKinds(cms)); err != nil {
		return out, err
	}
	var err error
	if out.access, err = r.checkAccess(ctx, cms); err != nil || len(out.access.source) > 0 {
		return out, err // A source the requester may no longer read is neither read nor copied; copies are kept.
	}
	src, content, err := r.readSource(ctx, copyKey{kind: string(cms.SourceKind()), NamespacedName: types.NamespacedName{
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
	content = content.As(out.kind)

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
	r.inParallel(len(stale), func(i int) { pruneErrs[i] = r.deleteCopy(ctx, stale[i]) })
	return out, out.tally(pruneErrs)
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
	return lifecycle.ClassifyAll(errs)
}

// checkKinds refuses a Secret copied into ConfigMaps, which the schema and the webhook refuse too: an object that
// slipped past both stalls rather than having a Secret's data written where more users may read it.
func checkKinds(cms *syncv1.ConfigMapSync) error {
	if cms.SourceKind() == syncv1.SourceKindSecret && cms.DestinationKind() == syncv1.SourceKindConfigMap {
		return syncer.InvalidSpec("spec.destination.kind: a Secret is never copied into ConfigMaps")
	}
	return nil
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
