// Package controllers holds one thin reconciler per kind; the sync rules themselves live in internal/syncer.
package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// sourceIndex indexes ConfigMapSyncs by "namespace/name" of the source they copy, so a change to a source wakes
// exactly the syncs that read it.
const sourceIndex = "spec.source"

// ConfigMapSyncReconciler keeps the ConfigMap named by each ConfigMapSync copied into its destination namespace.
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

// Reconcile copies the source ConfigMap of one ConfigMapSync into its destination and records the outcome.
func (r *ConfigMapSyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := logf.FromContext(ctx)

	cms := &syncv1beta1.ConfigMapSync{}
	if err := r.Get(ctx, req.NamespacedName, cms); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// One status patch per reconcile, whatever path it takes.
	before := cms.DeepCopy()
	defer func() {
		if err := r.Status().Patch(ctx, cms, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			reterr = fmt.Errorf("patching status: %w", err)
		}
	}()

	action, err := r.syncCopy(ctx, cms)
	if err != nil {
		cms.Status.SyncStatus = syncv1beta1.SyncStatusFailed
		return ctrl.Result{}, err
	}
	switch action {
	case syncer.ActionConflict:
		cms.Status.SyncStatus = syncv1beta1.SyncStatusConflict
		if before.Status.SyncStatus != syncv1beta1.SyncStatusConflict {
			r.Recorder.Eventf(cms, nil, corev1.EventTypeWarning, "Conflict", "Sync",
				"ConfigMap %s/%s exists and is not managed by this ConfigMapSync; it was left unchanged",
				cms.Spec.DestinationNamespace, cms.Spec.ConfigMapName)
		}
	case "":
		cms.Status.SyncStatus = syncv1beta1.SyncStatusSourceNotFound
	default:
		now := metav1.Now()
		cms.Status.SyncStatus = syncv1beta1.SyncStatusSynced
		cms.Status.LastSyncTime = &now
		if action != syncer.ActionNone {
			log.Info("Synced copy", "action", action, "destination", cms.Spec.DestinationNamespace)
		}
	}
	return ctrl.Result{}, nil
}

// syncCopy writes the copy when it is missing or differs from the source. It returns the action taken, or "" when
// the source does not exist (the copy, if any, is kept: a missing source is not a reason to delete data).
func (r *ConfigMapSyncReconciler) syncCopy(ctx context.Context, cms *syncv1beta1.ConfigMapSync) (syncer.Action, error) {
	src := &corev1.ConfigMap{}
	srcKey := types.NamespacedName{Namespace: cms.Spec.SourceNamespace, Name: cms.Spec.ConfigMapName}
	if err := r.APIReader.Get(ctx, srcKey, src); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading source ConfigMap %s: %w", srcKey, err)
	}

	owner := syncer.OwnerOf(cms)
	desired := syncer.DesiredConfigMap(syncer.ConfigMapContent(src), cms.Spec.DestinationNamespace, src.Name, owner)

	existing := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKeyFromObject(desired), existing); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading copy: %w", err)
		}
		existing = nil
	}
	// The cache only holds labelled copies: an unlabelled object of the same name is invisible to it, so a
	// missing cache entry is confirmed with a live read before anything is created.
	if existing == nil {
		live := &corev1.ConfigMap{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err == nil {
			existing = live
		} else if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading copy: %w", err)
		}
	}

	action := syncer.Plan(existing, owner, desired.Annotations[syncer.ContentHashAnnotation])
	switch action {
	case syncer.ActionCreate:
		if err := r.Create(ctx, desired); err != nil {
			return "", fmt.Errorf("creating copy in namespace %s: %w", desired.Namespace, err)
		}
	case syncer.ActionUpdate:
		desired.ResourceVersion = existing.ResourceVersion
		if err := r.Update(ctx, desired); err != nil {
			return "", fmt.Errorf("updating copy in namespace %s: %w", desired.Namespace, err)
		}
	}
	return action, nil
}

// SetupWithManager registers the controller: it watches ConfigMapSyncs, the metadata of source ConfigMaps, and
// the operator's own copies, so that a changed source or a tampered copy is synced at once.
func (r *ConfigMapSyncReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &syncv1beta1.ConfigMapSync{}, sourceIndex,
		func(obj client.Object) []string {
			cms := obj.(*syncv1beta1.ConfigMapSync)
			return []string{cms.Spec.SourceNamespace + "/" + cms.Spec.ConfigMapName}
		}); err != nil {
		return fmt.Errorf("indexing ConfigMapSyncs by source: %w", err)
	}

	sourceMeta := &metav1.PartialObjectMetadata{}
	sourceMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))

	return ctrl.NewControllerManagedBy(mgr).
		For(&syncv1beta1.ConfigMapSync{}).
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
	list := &syncv1beta1.ConfigMapSyncList{}
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
