// Package metawatch turns watch events on the metadata of every object of a kind into reconcile requests without
// keeping any object in memory. An informer would cache the identity of every ConfigMap and Secret in the cluster
// just to learn that a few of them (the sources) changed; with many unrelated Secrets that cache was the largest
// part of the operator's memory. One watch per resource serves every controller that maps its events, so each
// event in the cluster is decoded once.
package metawatch

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// MapFunc maps an object's metadata to the requests it should wake.
type MapFunc = handler.TypedMapFunc[*metav1.PartialObjectMetadata, reconcile.Request]

// Watches hands out sources backed by one store-less watch per resource.
type Watches struct {
	client metadata.Interface
	mu     sync.Mutex
	shared map[schema.GroupVersionResource]*sharedWatch
}

// New returns Watches that list and watch through client.
func New(client metadata.Interface) *Watches {
	return &Watches{client: client, shared: map[schema.GroupVersionResource]*sharedWatch{}}
}

// Source returns a source that enqueues what mapFn returns for each object of resource added, changed or deleted.
// The resource's watch starts once every source handed out for it has been started (the controllers start
// together when the operator becomes leader), so none misses the initial list. Nothing is kept: a relist (after a
// watch expired) maps every listed object again, and an object deleted while the watch was down is not seen,
// which the periodic resync of every ConfigMapSync covers.
func (w *Watches) Source(resource schema.GroupVersionResource, mapFn MapFunc) source.Source {
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.shared[resource]
	if !ok {
		s = &sharedWatch{client: w.client, resource: resource}
		w.shared[resource] = s
	}
	h := &subscriber{mapFn: mapFn}
	s.subscribers = append(s.subscribers, h)
	return source.Func(func(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		s.subscribe(ctx, h, queue)
		return nil
	})
}

// sharedWatch is the watch of one resource and the controllers it feeds.
type sharedWatch struct {
	client      metadata.Interface
	resource    schema.GroupVersionResource
	mu          sync.Mutex
	subscribers []*subscriber
	started     int
}

// subscriber is one controller's queue and map function.
type subscriber struct {
	ctx   context.Context //nolint:containedctx // The reflector's store interface has no context parameter.
	queue workqueue.TypedRateLimitingInterface[reconcile.Request]
	mapFn MapFunc
}

// subscribe records a started source and runs the watch once all of them are.
func (s *sharedWatch) subscribe(ctx context.Context, h *subscriber, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.ctx, h.queue = ctx, queue
	s.started++
	if s.started != len(s.subscribers) {
		return
	}
	store := enqueuer(s.subscribers)
	lw := &pagedListWatch{ListWatch: toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return s.listMapped(ctx, store, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return s.client.Resource(s.resource).Watch(ctx, opts)
		},
	}}
	reflector := toolscache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, store,
		toolscache.ReflectorOptions{Name: fmt.Sprintf("metawatch %s", s.resource.Resource)})
	go reflector.RunWithContext(ctx)
}

// listPageSize is how many objects one page of a (re)list holds.
const listPageSize = 500

// listMapped lists the resource a page at a time, maps every object of each page as it arrives (at low priority,
// as a relist's objects are) and keeps none: it returns an empty list at the resourceVersion the watch resumes
// from. A reflector's own list would hold every object of the resource at once before mapping any: the metadata of
// 100,000 copies, twice the memory the operator keeps for them.
func (s *sharedWatch) listMapped(ctx context.Context, store enqueuer, opts metav1.ListOptions) (runtime.Object, error) {
	opts.ResourceVersion, opts.ResourceVersionMatch, opts.Limit = "", "", listPageSize
	for {
		page, err := s.client.Resource(s.resource).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			if err := store.enqueue(&page.Items[i], true); err != nil {
				return nil, err
			}
		}
		if opts.Continue = page.Continue; opts.Continue == "" {
			return &metav1.PartialObjectMetadataList{ListMeta: metav1.ListMeta{ResourceVersion: page.ResourceVersion}}, nil
		}
	}
}

// pagedListWatch tells the reflector to list (listMapped) rather than stream the initial objects (WatchList),
// which would hold them all in a temporary store.
type pagedListWatch struct{ toolscache.ListWatch }

// IsWatchListSemanticsUnSupported says that the initial objects come from list.
func (*pagedListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// enqueuer is the reflector's store: it maps each object for every subscriber and forgets it.
type enqueuer []*subscriber

// enqueue maps obj for every subscriber. Objects of a (re)list go in at low priority where the queue has
// priorities, as controller-runtime's own sources do with their initial list: after a failover the new leader
// has every source's sync queued from its warm-up, and a change that happens now must not wait behind them.
func (e enqueuer) enqueue(obj any, listed bool) error {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return nil
	}
	for _, h := range e {
		reqs := h.mapFn(h.ctx, m)
		if pq, ok := h.queue.(priorityqueue.PriorityQueue[reconcile.Request]); ok && listed {
			low := handler.LowPriority
			pq.AddWithOpts(priorityqueue.AddOpts{Priority: &low}, reqs...)
			continue
		}
		for _, req := range reqs {
			h.queue.Add(req)
		}
	}
	return nil
}

// Add maps an added object.
func (e enqueuer) Add(obj any) error { return e.enqueue(obj, false) }

// Update maps a changed object.
func (e enqueuer) Update(obj any) error { return e.enqueue(obj, false) }

// Delete maps a deleted object.
func (e enqueuer) Delete(obj any) error { return e.enqueue(obj, false) }

// Replace maps every object of a (re)list.
func (e enqueuer) Replace(objs []any, _ string) error {
	for _, obj := range objs {
		if err := e.enqueue(obj, true); err != nil {
			return err
		}
	}
	return nil
}

// Resync has nothing to do: nothing is kept.
func (e enqueuer) Resync() error { return nil }
