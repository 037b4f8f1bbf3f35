// Package controllers holds one thin reconciler per kind; the sync rules themselves live in internal/syncer.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// sourceIndex indexes ConfigMapSyncs by "namespace/name" of the source they copy, so a change to a source wakes
// exactly the syncs that read it.
const sourceIndex = "spec.source"

// ConfigMapSyncReconciler keeps the source of each ConfigMapSync copied into its destination namespaces.
type ConfigMapSyncReconciler struct {
	client.Client
	// APIReader reads sources uncached: the manager's cache holds only the operator's own copies, so that the
	// operator's memory does not grow with every ConfigMap in the cluster.
	APIReader client.Reader
	// SourceCache holds the metadata, and only the metadata, of every ConfigMap: enough to notice source changes.
	SourceCache cache.Cache
	Recorder    recorder.EventRecorder
}

// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs,verbs=get;list;watch
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile copies the source of one ConfigMapSync into its destinations and records the outcome in its status.
func (r *ConfigMapSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	cms := &syncv1.ConfigMapSync{}
	if err := r.Get(ctx, req.NamespacedName, cms); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// One status patch per reconcile, whatever path it takes; observedGeneration only moves on success.
	before := cms.DeepCopy()
	defer func() {
		if reterr == nil {
			cms.Status.ObservedGeneration = cms.Generation
		}
		if err := r.Status().Patch(ctx, cms, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			reterr = errors.Join(reterr, fmt.Errorf("patching status: %w", err))
		}
	}()

	result, err := r.sync(ctx, cms)
	r.recordOutcome(ctx, before, cms, result, err)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: syncFrequency(cms)}, nil
}

// syncResult is what one sync found and did.
type syncResult struct {
	sourceMissing bool
	destinations  []destinationResult
}

type destinationResult struct {
	namespace string
	action    syncer.Action
	err       error
}

// sync writes every copy that is missing or differs from the source. A missing source is not an error: the
// copies are kept (a missing source is no reason to delete data) and the watch resumes the sync when it returns.
func (r *ConfigMapSyncReconciler) sync(ctx context.Context, cms *syncv1.ConfigMapSync) (syncResult, error) {
	if cms.Spec.Source.Kind == syncv1.SourceKindSecret {
		return syncResult{}, reconcile.TerminalError(errUnsupportedKind)
	}
	src := &corev1.ConfigMap{}
	srcKey := types.NamespacedName{Namespace: sourceNamespace(cms), Name: cms.Spec.Source.Name}
	if err := r.APIReader.Get(ctx, srcKey, src); err != nil {
		if apierrors.IsNotFound(err) {
			return syncResult{sourceMissing: true}, nil
		}
		return syncResult{}, fmt.Errorf("reading source ConfigMap %s: %w", srcKey, err)
	}

	content := syncer.ConfigMapContent(src)
	owner := syncer.OwnerOf(cms)
	name := cms.Spec.Destination.Name
	if name == "" {
		name = src.Name
	}
	var result syncResult
	var errs []error
	for _, ns := range cms.Spec.Destination.Namespaces {
		action, err := r.syncCopy(ctx, syncer.DesiredConfigMap(content, ns, name, owner), owner)
		result.destinations = append(result.destinations, destinationResult{namespace: ns, action: action, err: err})
		errs = append(errs, err)
	}
	return result, errors.Join(errs...)
}

var errUnsupportedKind = errors.New("source.kind Secret is not supported by this version of the operator")

// syncCopy creates or updates one copy when it differs from desired, and returns what it did.
func (r *ConfigMapSyncReconciler) syncCopy(ctx context.Context, desired *corev1.ConfigMap, owner syncer.Owner) (syncer.Action, error) {
	key := client.ObjectKeyFromObject(desired)
	existing := &corev1.ConfigMap{}
	if err := r.Get(ctx, key, existing); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading copy %s: %w", key, err)
		}
		// The cache only holds labelled copies: an unlabelled object of the same name is invisible to it, so a
		// missing cache entry is confirmed with a live read before anything is created.
		if err := r.APIReader.Get(ctx, key, existing); err != nil {
			if !apierrors.IsNotFound(err) {
				return "", fmt.Errorf("reading copy %s: %w", key, err)
			}
			existing = nil
		}
	}

	action := syncer.Plan(existing, owner, desired.Annotations[syncer.ContentHashAnnotation])
	switch action {
	case syncer.ActionCreate:
		if err := r.Create(ctx, desired); err != nil {
			return action, fmt.Errorf("creating copy %s: %w", key, err)
		}
	case syncer.ActionUpdate:
		desired.ResourceVersion = existing.ResourceVersion
		if err := r.Update(ctx, desired); err != nil {
			return action, fmt.Errorf("updating copy %s: %w", key, err)
		}
	}
	return action, nil
}

// recordOutcome writes the result of a sync into the status, logs changes, and emits events on transitions.
func (r *ConfigMapSyncReconciler) recordOutcome(ctx context.Context, before, cms *syncv1.ConfigMapSync, result syncResult, err error) {
	status := &cms.Status
	status.DesiredDestinations = int32(len(cms.Spec.Destination.Namespaces))
	status.SyncedDestinations, status.FailedDestinations = 0, 0
	conflicts := 0
	for _, d := range result.destinations {
		switch {
		case d.err != nil:
			status.FailedDestinations++
		case d.action == syncer.ActionConflict:
			conflicts++
			status.FailedDestinations++
		default:
			status.SyncedDestinations++
			if d.action != syncer.ActionNone {
				logf.FromContext(ctx).Info("Synced copy", "action", d.action, "namespace", d.namespace)
			}
		}
	}

	ready := metav1.Condition{Type: syncv1.ReadyCondition, Status: metav1.ConditionFalse, ObservedGeneration: cms.Generation}
	switch {
	case errors.Is(err, errUnsupportedKind):
		ready.Reason, ready.Message = syncv1.ReasonUnsupported, err.Error()
		status.SyncStatus = syncv1.SyncStatusFailed
	case err != nil:
		ready.Reason = syncv1.ReasonSyncFailed
		ready.Message = fmt.Sprintf("%d of %d destinations failed to sync; retrying", status.FailedDestinations, status.DesiredDestinations)
		status.SyncStatus = syncv1.SyncStatusFailed
	case result.sourceMissing:
		ready.Reason = syncv1.ReasonSourceNotFound
		ready.Message = fmt.Sprintf("%s %s/%s does not exist; existing copies are kept", sourceKind(cms), sourceNamespace(cms), cms.Spec.Source.Name)
		status.SyncStatus = syncv1.SyncStatusSourceNotFound
	case conflicts > 0:
		ready.Reason = syncv1.ReasonConflict
		ready.Message = fmt.Sprintf("%d destinations hold an object of the same name that this ConfigMapSync does not own; they were left unchanged", conflicts)
		status.SyncStatus = syncv1.SyncStatusConflict
	default:
		ready.Status, ready.Reason = metav1.ConditionTrue, syncv1.ReasonSynced
		ready.Message = fmt.Sprintf("%d of %d destinations hold an up-to-date copy", status.SyncedDestinations, status.DesiredDestinations)
		status.SyncStatus = syncv1.SyncStatusSynced
		now := metav1.Now()
		status.LastSyncTime = &now
	}
	meta.SetStatusCondition(&status.Conditions, ready)

	// Events only for transitions a user can act on, not for every retry.
	prev := meta.FindStatusCondition(before.Status.Conditions, syncv1.ReadyCondition)
	if ready.Status == metav1.ConditionFalse && (prev == nil || prev.Reason != ready.Reason) {
		r.Recorder.Eventf(cms, nil, corev1.EventTypeWarning, ready.Reason, "Sync", "%s", ready.Message)
	}
}

// sourceNamespace returns the namespace of the source, which defaults to the ConfigMapSync's own.
func sourceNamespace(cms *syncv1.ConfigMapSync) string {
	if cms.Spec.Source.Namespace != "" {
		return cms.Spec.Source.Namespace
	}
	return cms.Namespace
}

func sourceKind(cms *syncv1.ConfigMapSync) syncv1.SourceKind {
	if cms.Spec.Source.Kind == "" {
		return syncv1.SourceKindConfigMap
	}
	return cms.Spec.Source.Kind
}

// syncFrequency returns how long to wait before the next resync of an unchanged source.
func syncFrequency(cms *syncv1.ConfigMapSync) time.Duration {
	d, err := time.ParseDuration(cms.Spec.SyncFrequency)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(syncv1.DefaultSyncFrequency)
	}
	return d
}

// SetupWithManager registers the controller: it watches ConfigMapSyncs, the metadata of source ConfigMaps, and
// the operator's own copies, so that a changed source or a tampered copy is synced at once.
func (r *ConfigMapSyncReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &syncv1.ConfigMapSync{}, sourceIndex,
		func(obj client.Object) []string {
			cms := obj.(*syncv1.ConfigMapSync)
			return []string{sourceNamespace(cms) + "/" + cms.Spec.Source.Name}
		}); err != nil {
		return fmt.Errorf("indexing ConfigMapSyncs by source: %w", err)
	}

	sourceMeta := &metav1.PartialObjectMetadata{}
	sourceMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))

	return ctrl.NewControllerManagedBy(mgr).
		For(&syncv1.ConfigMapSync{}).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(ownerOfCopy)).
		WatchesRawSource(source.Kind(r.SourceCache, sourceMeta,
			handler.TypedEnqueueRequestsFromMapFunc(r.syncsReadingSource))).
		Named("configmapsync").
		Complete(r)
}

// ownerOfCopy maps a copy to the ConfigMapSync that owns it.
func ownerOfCopy(_ context.Context, obj client.Object) []reconcile.Request {
	if key, ok := syncer.OwnerKey(obj); ok {
		return []reconcile.Request{{NamespacedName: key}}
	}
	return nil
}

// syncsReadingSource maps a source ConfigMap to every ConfigMapSync that copies it.
func (r *ConfigMapSyncReconciler) syncsReadingSource(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
	list := &syncv1.ConfigMapSyncList{}
	if err := r.List(ctx, list, client.MatchingFields{sourceIndex: obj.Namespace + "/" + obj.Name}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ConfigMapSyncs for a source", "source", client.ObjectKeyFromObject(obj))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}
