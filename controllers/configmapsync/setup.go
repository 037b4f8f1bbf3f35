package configmapsync

import (
	"context"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Indexes on ConfigMapSyncs, so that an event on a namespace or an object wakes exactly the syncs it concerns.
const (
	// watchedObjectIndex holds "Kind/namespace/name" of the source and of every destination in conflict (so the
	// sync runs again when the object in the way is deleted).
	watchedObjectIndex = "watchedObjects"
	// destinationNamespaceIndex holds every listed namespace, and "*" for syncs with a namespace selector.
	destinationNamespaceIndex = "destinationNamespaces"
	anyNamespace              = "*"
)

// SetupWithManager registers the controller and its watches: ConfigMapSyncs; the objects labelled as the
// operator's copies, through the copy store (a tampered or deleted copy is restored at once); the metadata of every ConfigMap and Secret (a changed source is
// synced at once); and the metadata of namespaces (new namespaces matching a selector get their copy).
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, o lifecycle.Options) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &syncv1.ConfigMapSync{}, watchedObjectIndex, watchedObjects); err != nil {
		return fmt.Errorf("indexing ConfigMapSyncs by watched object: %w", err)
	}
	if err := indexer.IndexField(ctx, &syncv1.ConfigMapSync{}, destinationNamespaceIndex, destinationNamespaces); err != nil {
		return fmt.Errorf("indexing ConfigMapSyncs by destination namespace: %w", err)
	}

	if r.SourceCacheBytes > 0 {
		r.sourceCache = newSourceCache(min(maxCachedSource, r.SourceCacheBytes), r.SourceCacheBytes)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&syncv1.ConfigMapSync{}, builder.WithPredicates(skipStatusOnlyChanges)).
		Named("configmapsync").
		WithOptions(lifecycle.ControllerOptions(o))
	for _, kind := range []string{syncer.KindConfigMap, syncer.KindSecret} {
		b = b.WatchesRawSource(r.Copies.Source(kind, r.copyEvents())).
			WatchesRawSource(r.Sources.Source(lifecycle.ResourceOf(kind), r.syncsWatching(kind)))
	}
	b = b.WatchesRawSource(source.Kind(r.Metadata, lifecycle.MetadataOf("Namespace"),
		handler.TypedEnqueueRequestsFromMapFunc(r.syncsIntoNamespace)))
	return b.Complete(r)
}

// skipStatusOnlyChanges drops the update events of a ConfigMapSync in which nothing but its status changed. They
// are the echo of the operator's own status patch, one per sync: waking the sync again would read its source once
// more and find nothing to do. Spec changes move the generation, as does the start of a deletion; sync-now
// requests are annotations; finalizers and labels are compared too.
var skipStatusOnlyChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		return o.GetGeneration() != n.GetGeneration() ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers())
	},
}

func watchedObjects(obj client.Object) []string {
	cms := obj.(*syncv1.ConfigMapSync)
	kind := string(cms.SourceKind())
	keys := []string{objectKey(kind, cms.SourceNamespace(), cms.Spec.Source.Name)}
	for _, d := range cms.Status.Destinations {
		if d.State == syncv1.DestinationConflict {
			keys = append(keys, objectKey(kind, d.Namespace, cms.CopyName()))
		}
	}
	return keys
}

func destinationNamespaces(obj client.Object) []string {
	cms := obj.(*syncv1.ConfigMapSync)
	keys := append([]string(nil), cms.Spec.Destination.Namespaces...)
	if cms.Spec.Destination.NamespaceSelector != nil {
		keys = append(keys, anyNamespace)
	}
	return keys
}

func objectKey(kind, namespace, name string) string { return kind + "/" + namespace + "/" + name }

// ownerOfCopy maps a copy to the ConfigMapSync that owns it.
func ownerOfCopy(_ context.Context, obj client.Object) []reconcile.Request {
	if key, ok := syncer.OwnerKey(obj); ok {
		return []reconcile.Request{{NamespacedName: key}}
	}
	return nil
}

// copyEvents wakes the owner of a copy on the events of the copy, and tells writtenCopies what the cache now
// holds. Two kinds of event wake nobody. The echo of the operator's own create or update (the very
// resourceVersion it wrote) tells the sync nothing new: a fan-out to 5,000 namespaces would otherwise replan all
// 5,000 destinations for each of its own writes. And the deletion of a copy whose owner is gone or being deleted
// is the owner's own cleanup; waking it again would find the work done (or try to remove a finalizer already
// removed, through both admission webhooks).
func (r *Reconciler) copyEvents() handler.EventHandler {
	enqueue := handler.EnqueueRequestsFromMapFunc(ownerOfCopy)
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !r.written.observe(e.Object) {
				enqueue.Create(ctx, e, q)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !r.written.observe(e.ObjectNew) {
				enqueue.Update(ctx, e, q)
			}
		},
		GenericFunc: enqueue.Generic,
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.written.observe(e.Object)
			if !r.ownerLeaving(ctx, e.Object) {
				enqueue.Delete(ctx, e, q)
			}
		},
	}
}

// ownerLeaving reports whether the cache shows the owner of a copy gone or being deleted.
func (r *Reconciler) ownerLeaving(ctx context.Context, obj client.Object) bool {
	key, ok := syncer.OwnerKey(obj)
	if !ok {
		return false
	}
	owner := &syncv1.ConfigMapSync{}
	if err := r.Get(ctx, key, owner); err != nil {
		return apierrors.IsNotFound(err)
	}
	return !owner.DeletionTimestamp.IsZero()
}

// syncsWatching maps a ConfigMap or Secret to the syncs that copy it or that it blocks.
func (r *Reconciler) syncsWatching(kind string) handler.TypedMapFunc[*metav1.PartialObjectMetadata, reconcile.Request] {
	return func(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
		reqs := lifecycle.RequestsFor(ctx, r.Client, &syncv1.ConfigMapSyncList{}, client.MatchingFields{watchedObjectIndex: objectKey(kind, obj.Namespace, obj.Name)})
		r.sourceCache.saw(copyKey{kind: kind, NamespacedName: client.ObjectKeyFromObject(obj)}, obj.ResourceVersion, len(reqs) > 0)
		return reqs
	}
}

// syncsIntoNamespace maps a namespace to the syncs that list it or select namespaces by label.
func (r *Reconciler) syncsIntoNamespace(ctx context.Context, ns *metav1.PartialObjectMetadata) []reconcile.Request {
	return append(lifecycle.RequestsFor(ctx, r.Client, &syncv1.ConfigMapSyncList{}, client.MatchingFields{destinationNamespaceIndex: ns.Name}),
		lifecycle.RequestsFor(ctx, r.Client, &syncv1.ConfigMapSyncList{}, client.MatchingFields{destinationNamespaceIndex: anyNamespace})...)
}
