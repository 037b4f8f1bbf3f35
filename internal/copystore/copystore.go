// Package copystore keeps the operator's picture of the ConfigMaps and Secrets that carry its managed-by label:
// one syncer.View per object, with no data and its ownership proof checked.
//
// A controller-runtime cache would keep these objects as they come (a ConfigMap with its labels, annotations and,
// without a transform, its data), and its initial list decodes every object at once before any transform runs:
// at 100,000 copies that list alone peaked over 500 MiB. Here every object is turned into a view as soon as it is
// decoded: the initial list is read a page at a time and each page is dropped once viewed, and each watch event is
// viewed before the informer stores it. Whatever a tenant labels, the store holds a few hundred bytes per object.
package copystore

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// ownerIndex indexes views by the owner UID their label names.
const ownerIndex = "owner-uid"

// Pages of the initial list are sized by bytes: the first holds minPage objects, each next one as many as fit in
// pageBytes at the sizes seen so far, between minPage and maxPage. 100,000 copies of 1 KiB take some 200 requests,
// and 1,000 copies of 1 MiB never hold more than about 10 MiB decoded at once.
const (
	minPage   = 10
	maxPage   = 500
	pageBytes = 8 << 20
)

// Store holds a view of every ConfigMap and Secret labelled as managed by the operator.
type Store struct {
	keys      syncer.Keys
	informers map[string]toolscache.SharedIndexInformer
	start     sync.Once
	// direct, when set, answers every read from the API server instead of informers (NewDirect).
	direct client.Reader
}

// New returns a Store that lists and watches through c and checks proofs with keys. It starts with the first
// source started (Source), so it runs on every replica from warm-up on, like the manager's caches.
func New(c client.WithWatch, keys syncer.Keys) *Store {
	s := &Store{keys: keys, informers: map[string]toolscache.SharedIndexInformer{}}
	for _, kind := range []string{syncer.KindConfigMap, syncer.KindSecret} {
		s.informers[kind] = toolscache.NewSharedIndexInformerWithOptions(s.listWatch(c, kind), &syncer.View{},
			toolscache.SharedIndexInformerOptions{Indexers: toolscache.Indexers{ownerIndex: ownerUID}})
	}
	return s
}

// NewDirect returns a Store that reads through r at every call and keeps nothing: for unit tests, where reads must
// see the last write at once.
func NewDirect(r client.Reader, keys syncer.Keys) *Store { return &Store{keys: keys, direct: r} }

// Keys returns the keys the store checks proofs with.
func (s *Store) Keys() syncer.Keys { return s.keys }

// View returns the view of obj, its proof checked with the store's keys: live reads are judged exactly as
// stored objects are.
func (s *Store) View(obj client.Object) *syncer.View { return syncer.ViewOf(obj, s.keys) }

func ownerUID(obj any) ([]string, error) {
	v, ok := obj.(*syncer.View)
	if !ok {
		return nil, nil
	}
	return []string{v.GetLabels()[syncv1.OwnerUIDLabel]}, nil
}

// ByOwner returns the views of kind whose owner-uid label is uid: what they claim, not what they prove.
func (s *Store) ByOwner(kind string, uid types.UID) ([]*syncer.View, error) {
	if s.direct != nil {
		return s.listDirect(kind, client.MatchingLabels{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: string(uid)})
	}
	objs, err := s.informers[kind].GetIndexer().ByIndex(ownerIndex, string(uid))
	if err != nil {
		return nil, fmt.Errorf("listing %ss by owner: %w", kind, err)
	}
	out := make([]*syncer.View, 0, len(objs))
	for _, obj := range objs {
		out = append(out, obj.(*syncer.View))
	}
	return out, nil
}

// Get returns the view of the object of kind at key; nil when the store has none.
func (s *Store) Get(kind string, key types.NamespacedName) *syncer.View {
	if s.direct != nil {
		obj := syncer.NewObject(kind)
		if err := s.direct.Get(context.Background(), key, obj); err != nil || obj.GetLabels()[syncv1.ManagedByLabel] != syncv1.ManagedByValue {
			return nil
		}
		return s.View(obj)
	}
	obj, ok, err := s.informers[kind].GetIndexer().GetByKey(toolscache.ObjectName{Namespace: key.Namespace, Name: key.Name}.String())
	if err != nil || !ok {
		return nil
	}
	return obj.(*syncer.View)
}

// Cached returns the view the store's informer holds at key, nil when it holds none. A store made by NewDirect
// holds nothing: it reads through at every call.
func (s *Store) Cached(kind string, key types.NamespacedName) *syncer.View {
	if s.direct != nil {
		return nil
	}
	return s.Get(kind, key)
}

// listDirect lists the objects of kind that opts select through the direct reader, as views.
func (s *Store) listDirect(kind string, opts ...client.ListOption) ([]*syncer.View, error) {
	list := syncer.NewList(kind)
	if err := s.direct.List(context.Background(), list, opts...); err != nil {
		return nil, err
	}
	items, err := metaItems(list)
	out := make([]*syncer.View, 0, len(items))
	for _, obj := range items {
		out = append(out, s.View(obj))
	}
	return out, err
}

// Source returns a source that maps the events of kind's views through h. The first source started starts the
// store; every source waits for the store to hold the initial list.
func (s *Store) Source(kind string, h handler.EventHandler) source.SyncingSource {
	return &storeSource{store: s, informer: s.informers[kind], handler: h}
}

// run starts every informer of the store once, until ctx ends.
func (s *Store) run(ctx context.Context) {
	s.start.Do(func() {
		for _, inf := range s.informers {
			go inf.RunWithContext(ctx)
		}
	})
}

type storeSource struct {
	store    *Store
	informer toolscache.SharedIndexInformer
	handler  handler.EventHandler
}

func (s *storeSource) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	if err := (&source.Informer{Informer: s.informer, Handler: s.handler}).Start(ctx, q); err != nil {
		return err
	}
	s.store.run(ctx)
	return nil
}

func (s *storeSource) WaitForSync(ctx context.Context) error {
	if !toolscache.WaitForCacheSync(ctx.Done(), s.informer.HasSynced) {
		return fmt.Errorf("waiting for the copy store to sync: %w", ctx.Err())
	}
	return nil
}

func (s *storeSource) String() string { return "copy store" }

// listWatch lists and watches the labelled objects of kind as views.
func (s *Store) listWatch(c client.WithWatch, kind string) toolscache.ListerWatcher {
	selector := labels.SelectorFromSet(labels.Set{syncv1.ManagedByLabel: syncv1.ManagedByValue}).String()
	return &viewListWatch{
		list: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return s.listViews(ctx, c, kind, o)
		},
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			w, err := c.Watch(ctx, syncer.NewList(kind), &client.ListOptions{Raw: &o})
			if err != nil {
				return nil, err
			}
			return watch.Filter(w, s.viewEvent), nil
		},
	}
}

// listViews lists a page at a time (pages sized by the bytes of the objects seen so far) and keeps only the views. The reflector's first list asks for
// resourceVersion "0", which the API server answers from its watch cache in one response whatever the limit; a
// consistent list ("") is paginated.
func (s *Store) listViews(ctx context.Context, c client.Reader, kind string, o metav1.ListOptions) (runtime.Object, error) {
	o.ResourceVersion, o.ResourceVersionMatch, o.Limit = "", "", minPage
	out := &syncer.ViewList{}
	var objects, bytes int64
	for {
		page := syncer.NewList(kind)
		if err := c.List(ctx, page, &client.ListOptions{Raw: &o, Limit: o.Limit, Continue: o.Continue}); err != nil {
			return nil, err
		}
		items, err := metaItems(page)
		if err != nil {
			return nil, err
		}
		for _, obj := range items {
			out.Items = append(out.Items, *s.View(obj))
			objects, bytes = objects+1, bytes+int64(dataSize(obj))
		}
		o.Limit = max(minPage, min(maxPage, pageBytes*objects/max(bytes, 1)))
		lm, err := metaListOf(page)
		if err != nil {
			return nil, err
		}
		out.ResourceVersion = lm.GetResourceVersion()
		if o.Continue = lm.GetContinue(); o.Continue == "" {
			return out, nil
		}
	}
}

// viewEvent replaces the object of a watch event with its view. Bookmarks keep their resourceVersion and
// annotations (the reflector reads both); errors pass as they are.
func (s *Store) viewEvent(e watch.Event) (watch.Event, bool) {
	if obj, ok := e.Object.(client.Object); ok && e.Type != watch.Error {
		e.Object = s.View(obj)
	}
	return e, true
}

// viewListWatch is the store's ListerWatcher. It declares itself unable to stream the initial list (WatchList):
// the reflector then calls list, which pages.
type viewListWatch struct {
	list  func(context.Context, metav1.ListOptions) (runtime.Object, error)
	watch func(context.Context, metav1.ListOptions) (watch.Interface, error)
}

func (lw *viewListWatch) List(o metav1.ListOptions) (runtime.Object, error) {
	return lw.list(context.Background(), o)
}
func (lw *viewListWatch) Watch(o metav1.ListOptions) (watch.Interface, error) {
	return lw.watch(context.Background(), o)
}
func (lw *viewListWatch) ListWithContext(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
	return lw.list(ctx, o)
}
func (lw *viewListWatch) WatchWithContext(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	return lw.watch(ctx, o)
}

// IsWatchListSemanticsUnSupported tells the reflector to list (a page at a time) rather than stream.
func (lw *viewListWatch) IsWatchListSemanticsUnSupported() bool { return true }

// dataSize is the number of bytes of the values of a ConfigMap or Secret.
func dataSize(obj client.Object) int {
	n := 0
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		for _, v := range o.Data {
			n += len(v)
		}
		for _, v := range o.BinaryData {
			n += len(v)
		}
	case *corev1.Secret:
		for _, v := range o.Data {
			n += len(v)
		}
	}
	return n
}

// metaItems returns the items of a typed list.
func metaItems(list runtime.Object) ([]client.Object, error) {
	var out []client.Object
	err := meta.EachListItem(list, func(o runtime.Object) error {
		obj, ok := o.(client.Object)
		if !ok {
			return fmt.Errorf("%T is not an object", o)
		}
		out = append(out, obj)
		return nil
	})
	return out, err
}

func metaListOf(list runtime.Object) (metav1.ListInterface, error) { return meta.ListAccessor(list) }
