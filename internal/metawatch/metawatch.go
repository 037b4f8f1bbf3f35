// Package metawatch turns watch events on the metadata of every object of a kind into reconcile requests without
// keeping any object in memory. An informer would cache the identity of every ConfigMap and Secret in the cluster
// just to learn that a few of them (the sources) changed; with many unrelated Secrets that cache was the largest
// part of the operator's memory.
package metawatch

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Source returns a source that lists and watches the metadata of every object of resource and enqueues what
// mapFn returns for each object added, changed or deleted. It keeps nothing: a relist (after a watch expired)
// maps every listed object again, and an object deleted while the watch was down is not seen, which the
// periodic resync of every ConfigMapSync covers.
func Source(client metadata.Interface, resource schema.GroupVersionResource,
	mapFn handler.TypedMapFunc[*metav1.PartialObjectMetadata, reconcile.Request]) source.Source {
	return source.Func(func(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		lw := &toolscache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				return client.Resource(resource).List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				return client.Resource(resource).Watch(ctx, opts)
			},
		}
		sink := &enqueuer{ctx: ctx, queue: queue, mapFn: mapFn}
		reflector := toolscache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, sink,
			toolscache.ReflectorOptions{Name: fmt.Sprintf("metawatch %s", resource.Resource)})
		go reflector.RunWithContext(ctx)
		return nil
	})
}

// enqueuer is the reflector's store: it maps each object to requests and forgets it.
type enqueuer struct {
	ctx   context.Context //nolint:containedctx // The reflector's store interface has no context parameter.
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
	mapFn handler.TypedMapFunc[*metav1.PartialObjectMetadata, reconcile.Request]
}

func (e *enqueuer) enqueue(obj any) error {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		for _, req := range e.mapFn(e.ctx, m) {
			e.queue.Add(req)
		}
	}
	return nil
}

// Add maps an added object.
func (e *enqueuer) Add(obj any) error { return e.enqueue(obj) }

// Update maps a changed object.
func (e *enqueuer) Update(obj any) error { return e.enqueue(obj) }

// Delete maps a deleted object.
func (e *enqueuer) Delete(obj any) error { return e.enqueue(obj) }

// Replace maps every object of a (re)list.
func (e *enqueuer) Replace(objs []any, _ string) error {
	for _, obj := range objs {
		if err := e.enqueue(obj); err != nil {
			return err
		}
	}
	return nil
}

// Resync has nothing to do: nothing is kept.
func (e *enqueuer) Resync() error { return nil }
