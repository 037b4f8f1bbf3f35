package copystore

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

var keys = syncer.Keys{Current: syncer.NewKey([]byte("copystore-test-key-0123456789ab"))}

const managedSelector = syncv1.ManagedByLabel + "=" + syncv1.ManagedByValue

// labelled returns a ConfigMap labelled for owner and signed with keys, holding data.
func labelled(namespace, name string, owner types.UID, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			Labels: map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: string(owner)},
			Annotations: map[string]string{
				syncv1.OwnershipProofAnnotation: keys.Proof(owner, syncer.KindConfigMap, namespace, name),
				syncv1.ContentHashAnnotation:    "whatever-it-claims",
			}},
		Data: data,
	}
}

// apiServer wraps the fake client so that it filters lists and watches by the raw label selector, as the API
// server does (the fake client ignores a selector given in ListOptions.Raw, and every selector of a watch), and
// records the selectors the store asked for.
type apiServer struct {
	client.WithWatch
	mu        sync.Mutex
	selectors []string
	pages     []metav1.ListOptions // the options of every ConfigMap list call
}

func newAPIServer(t *testing.T, objs ...client.Object) *apiServer {
	t.Helper()
	s := &apiServer{}
	s.WithWatch = interceptor.NewClient(fake.NewClientBuilder().WithObjects(objs...).Build(), interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			sel := s.selector(opts)
			if err := c.List(ctx, list, append(opts, client.MatchingLabelsSelector{Selector: sel})...); err != nil {
				return err
			}
			return s.page(list, opts)
		},
		Watch: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
			sel := s.selector(opts)
			w, err := c.Watch(ctx, list, opts...)
			if err != nil {
				return nil, err
			}
			return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
				obj, ok := e.Object.(client.Object)
				return e, !ok || sel.Matches(labels.Set(obj.GetLabels()))
			}), nil
		},
	})
	return s
}

func (s *apiServer) selector(opts []client.ListOption) labels.Selector {
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	raw := o.AsListOptions().LabelSelector
	s.mu.Lock()
	s.selectors = append(s.selectors, raw)
	s.mu.Unlock()
	sel, err := labels.Parse(raw)
	if err != nil {
		panic(err)
	}
	return sel
}

// page cuts list to the page that the limit and continue token of opts ask for, as the API server does for a
// consistent list (the fake client returns every item at once).
func (s *apiServer) page(list client.ObjectList, opts []client.ListOption) error {
	o := (&client.ListOptions{}).ApplyOptions(opts).AsListOptions()
	if _, ok := list.(*corev1.ConfigMapList); ok {
		s.mu.Lock()
		s.pages = append(s.pages, *o)
		s.mu.Unlock()
	}
	if o.Limit == 0 {
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	from := 0
	if o.Continue != "" {
		if from, err = strconv.Atoi(o.Continue); err != nil {
			return err
		}
	}
	to := min(from+int(o.Limit), len(items))
	next := ""
	if to < len(items) {
		next = strconv.Itoa(to)
	}
	if err := meta.SetList(list, items[from:to]); err != nil {
		return err
	}
	list.SetContinue(next)
	return nil
}

func (s *apiServer) asked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.selectors)
}

// started starts the store's sources of both kinds and waits for them to sync; it returns the ConfigMaps' queue.
func started(t *testing.T, store *Store) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	queue := func() workqueue.TypedRateLimitingInterface[reconcile.Request] {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		t.Cleanup(q.ShutDown)
		return q
	}
	cms, secrets := queue(), queue()
	cmSource := store.Source(syncer.KindConfigMap, &handler.EnqueueRequestForObject{})
	secretSource := store.Source(syncer.KindSecret, &handler.EnqueueRequestForObject{})
	require.NoError(t, cmSource.Start(ctx, cms))
	require.NoError(t, secretSource.Start(ctx, secrets))
	syncCtx, done := context.WithTimeout(ctx, 10*time.Second)
	defer done()
	require.NoError(t, cmSource.WaitForSync(syncCtx))
	require.NoError(t, secretSource.WaitForSync(syncCtx))
	return cms
}

func names(views []*syncer.View) []string {
	out := make([]string, 0, len(views))
	for _, v := range views {
		out = append(out, v.GetNamespace()+"/"+v.GetName())
	}
	slices.Sort(out)
	return out
}

func key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}

// deepSize is the bytes reachable from v that grow with what an object holds: string and byte contents, map and
// slice elements, and what pointers point to, each pointer followed once.
func deepSize(v reflect.Value, seen map[uintptr]bool) int {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || seen[v.Pointer()] {
			return 0
		}
		seen[v.Pointer()] = true
		return int(v.Type().Elem().Size()) + deepSize(v.Elem(), seen)
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			n += deepSize(v.Field(i), seen)
		}
		return n
	case reflect.String:
		return v.Len()
	case reflect.Slice:
		n := v.Len() * int(v.Type().Elem().Size())
		for i := range v.Len() {
			n += deepSize(v.Index(i), seen)
		}
		return n
	case reflect.Map:
		n := 0
		for it := v.MapRange(); it.Next(); {
			n += 16 + deepSize(it.Key(), seen) + deepSize(it.Value(), seen)
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		return deepSize(v.Elem(), seen)
	}
	return 0
}

func TestStore_SyncsViewsOfLabelledObjects(t *testing.T) {
	copyA := labelled("team-b", "a", "uid-1", map[string]string{"k": "v"})
	copyB := labelled("team-c", "b", "uid-1", map[string]string{"k": "v"})
	other := labelled("team-b", "other-owner", "uid-2", nil)
	forged := labelled("team-b", "forged", "uid-1", nil)
	forged.Annotations[syncv1.OwnershipProofAnnotation] = copyA.Annotations[syncv1.OwnershipProofAnnotation]
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "plain",
		Labels: map[string]string{syncv1.OwnerUIDLabel: "uid-1"}}, Data: map[string]string{"k": "v"}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "a", Labels: copyA.Labels,
		Annotations: map[string]string{syncv1.OwnershipProofAnnotation: keys.Proof("uid-1", syncer.KindSecret, "team-b", "a")}},
		Data: map[string][]byte{"password": []byte("p")}}
	server := newAPIServer(t, copyA, copyB, other, forged, plain, sec)
	store := New(server, keys)
	cms := started(t, store)

	for _, s := range server.asked() {
		assert.Equal(t, managedSelector, s, "the store lists and watches only what carries the managed-by label")
	}
	assert.NotEmpty(t, server.asked())

	v := store.Get(syncer.KindConfigMap, key("team-b", "a"))
	require.NotNil(t, v)
	assert.Equal(t, syncer.HashOf(copyA), v.Hash(), "the hash of the data, not the annotation's")
	assert.Equal(t, syncer.Proven, v.Verdict)
	assert.NotContains(t, v.GetAnnotations(), syncv1.OwnershipProofAnnotation)
	assert.Equal(t, syncer.Unproven, store.Get(syncer.KindConfigMap, key("team-b", "forged")).Verdict, "a copied proof proves nothing")
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "plain")), "no managed-by label, not in the store")
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "unknown")))
	assert.Nil(t, store.Get(syncer.KindSecret, key("team-c", "b")), "kinds are apart")

	byOwner, err := store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"team-b/a", "team-b/forged", "team-c/b"}, names(byOwner), "what claims the owner, proven or not")
	byOwner, err = store.ByOwner(syncer.KindConfigMap, "uid-2")
	require.NoError(t, err)
	assert.Equal(t, []string{"team-b/other-owner"}, names(byOwner))
	byOwner, err = store.ByOwner(syncer.KindSecret, "uid-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"team-b/a"}, names(byOwner))
	assert.Equal(t, syncer.KindSecret, byOwner[0].Kind())
	assert.Equal(t, syncer.Proven, byOwner[0].Verdict)
	byOwner, err = store.ByOwner(syncer.KindConfigMap, "uid-unknown")
	require.NoError(t, err)
	assert.Empty(t, byOwner)

	assert.Eventually(t, func() bool { return cms.Len() == 4 }, 5*time.Second, 10*time.Millisecond,
		"one event per labelled ConfigMap, none for the unlabelled one")
	assert.Equal(t, keys, store.Keys())
}

func TestStore_FollowsTheWatch(t *testing.T) {
	server := newAPIServer(t)
	store := New(server, keys)
	started(t, store)
	ctx := context.Background()

	// Created unlabelled first: once the labelled one shows, the watch has delivered the unlabelled one too.
	require.NoError(t, server.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "plain"}}))
	obj := labelled("team-b", "later", "uid-1", map[string]string{"k": "v1"})
	require.NoError(t, server.Create(ctx, obj))
	require.Eventually(t, func() bool { return store.Get(syncer.KindConfigMap, key("team-b", "later")) != nil },
		5*time.Second, 10*time.Millisecond, "a create shows")
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "plain")))
	assert.Equal(t, syncer.HashOf(obj), store.Get(syncer.KindConfigMap, key("team-b", "later")).Hash())

	obj.Data["k"] = "v2"
	require.NoError(t, server.Update(ctx, obj))
	require.Eventually(t, func() bool {
		return store.Get(syncer.KindConfigMap, key("team-b", "later")).Hash() == syncer.HashOf(obj)
	}, 5*time.Second, 10*time.Millisecond, "an update shows, its hash computed from the new data")
	assert.Equal(t, obj.ResourceVersion, store.Get(syncer.KindConfigMap, key("team-b", "later")).GetResourceVersion())

	obj.Labels[syncv1.OwnerUIDLabel] = "uid-2"
	require.NoError(t, server.Update(ctx, obj))
	require.Eventually(t, func() bool {
		views, err := store.ByOwner(syncer.KindConfigMap, "uid-2")
		return err == nil && len(views) == 1
	}, 5*time.Second, 10*time.Millisecond, "a relabelled object moves to its new owner")
	views, err := store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Empty(t, views)
	assert.Equal(t, syncer.Unproven, store.Get(syncer.KindConfigMap, key("team-b", "later")).Verdict, "signed for another owner")

	require.NoError(t, server.Delete(ctx, obj))
	require.Eventually(t, func() bool { return store.Get(syncer.KindConfigMap, key("team-b", "later")) == nil },
		5*time.Second, 10*time.Millisecond, "a delete shows")
}

func TestStore_ViewsHoldNoData(t *testing.T) {
	big := labelled("team-b", "big", "uid-1", map[string]string{"blob": strings.Repeat("x", 900<<10)})
	big.Labels["team"] = "payments"
	store := New(newAPIServer(t, big), keys)
	started(t, store)

	v := store.Get(syncer.KindConfigMap, key("team-b", "big"))
	require.NotNil(t, v)
	assert.Equal(t, syncer.HashOf(big), v.Hash(), "the data was seen, and hashed")
	size := deepSize(reflect.ValueOf(v), map[uintptr]bool{})
	assert.Less(t, size, 2048, "a view of a 900 KiB ConfigMap holds a few hundred bytes, not its data")
	assert.Greater(t, size, len(big.Labels["team"])+len(big.Labels[syncv1.OwnerUIDLabel]), "deepSize sees what the view holds")
	assert.Greater(t, deepSize(reflect.ValueOf(big), map[uintptr]bool{}), 900<<10, "deepSize sees data where there is some")
	t.Logf("view of a 900 KiB ConfigMap: %d bytes reachable", size)
}

func TestStore_ListsAPageAtATime(t *testing.T) {
	objs := make([]client.Object, 0, 250)
	for i := range 250 {
		objs = append(objs, labelled("team-b", fmt.Sprintf("copy-%03d", i), "uid-1", map[string]string{"i": strconv.Itoa(i)}))
	}
	server := newAPIServer(t, objs...)
	store := New(server, keys)
	started(t, store)

	views, err := store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Len(t, views, 250, "every page is kept")
	assert.Equal(t, []int64{minPage, maxPage}, configMapPageLimits(server),
		"a first small page, then as many small objects as fit in pageBytes, at most maxPage")
}

// TestStore_PagesHoldAboutPageBytes: copies of 1 MiB are listed minPage at a time, so a restart never decodes
// much more than pageBytes of them at once.
func TestStore_PagesHoldAboutPageBytes(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	objs := make([]client.Object, 0, 25)
	for i := range 25 {
		objs = append(objs, labelled("team-b", fmt.Sprintf("big-%02d", i), "uid-1", map[string]string{"blob": big}))
	}
	server := newAPIServer(t, objs...)
	store := New(server, keys)
	started(t, store)
	views, err := store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Len(t, views, 25)
	assert.Equal(t, []int64{minPage, minPage, minPage}, configMapPageLimits(server))
}

// configMapPageLimits returns the limit of every ConfigMap list the server answered, in order; each was a
// consistent list (resourceVersion ""), which the API server paginates (resourceVersion 0 is not).
func configMapPageLimits(server *apiServer) []int64 {
	server.mu.Lock()
	defer server.mu.Unlock()
	var limits []int64
	for _, o := range server.pages {
		if o.ResourceVersion != "" {
			return nil
		}
		limits = append(limits, o.Limit)
	}
	return limits
}

func TestNewDirect(t *testing.T) {
	copyA := labelled("team-b", "a", "uid-1", map[string]string{"k": "v"})
	other := labelled("team-b", "b", "uid-2", nil)
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "plain",
		Labels: map[string]string{syncv1.OwnerUIDLabel: "uid-1"}}}
	c := fake.NewClientBuilder().WithObjects(copyA, other, plain).Build()
	store := NewDirect(c, keys)

	v := store.Get(syncer.KindConfigMap, key("team-b", "a"))
	require.NotNil(t, v)
	assert.Equal(t, syncer.Proven, v.Verdict)
	assert.Equal(t, syncer.HashOf(copyA), v.Hash())
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "plain")))
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "unknown")))
	assert.Nil(t, store.Get(syncer.KindSecret, key("team-b", "a")))

	views, err := store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"team-b/a"}, names(views), "the unlabelled object claiming uid-1 is not a copy")

	// Reads see the last write at once.
	ctx := context.Background()
	require.NoError(t, c.Create(ctx, labelled("team-c", "new", "uid-1", nil)))
	views, err = store.ByOwner(syncer.KindConfigMap, "uid-1")
	require.NoError(t, err)
	assert.Equal(t, []string{"team-b/a", "team-c/new"}, names(views))
	require.NoError(t, c.Delete(ctx, copyA))
	assert.Nil(t, store.Get(syncer.KindConfigMap, key("team-b", "a")))

	live := labelled("team-b", "x", "uid-1", nil)
	assert.Equal(t, syncer.Proven, store.View(live).Verdict, "live reads are judged with the store's keys")
}
