package metawatch

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

func secretMeta(namespace, name string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return m
}

// next waits for the next request in queue.
func next(t *testing.T, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) reconcile.Request {
	t.Helper()
	got := make(chan reconcile.Request, 1)
	go func() {
		req, _ := queue.Get()
		queue.Done(req)
		got <- req
	}()
	select {
	case req := <-got:
		return req
	case <-time.After(10 * time.Second):
		t.Fatal("no request was enqueued")
		return reconcile.Request{}
	}
}

func TestSourceEnqueuesListedAddedChangedAndDeletedObjects(t *testing.T) {
	// The fake client cannot stream a list over a watch (the API server can): let the reflector list, then watch.
	t.Setenv("KUBE_FEATURE_WatchListClient", "false")
	scheme := runtime.NewScheme()
	require.NoError(t, metav1.AddMetaToScheme(scheme))
	client := metadatafake.NewSimpleMetadataClient(scheme, secretMeta("app", "existing"))
	secrets := corev1.SchemeGroupVersion.WithResource("secrets")
	// The map function turns each Secret into a request of the same name, as the controllers map sources to CRs.
	mapFn := func(_ context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: obj.Namespace, Name: obj.Name}}}
	}
	// Two controllers map the same resource: one watch feeds both, and it starts once both have started.
	watches := New(client)
	first, second := watches.Source(secrets, mapFn), watches.Source(secrets, mapFn)
	queue := newQueue(t)
	other := newQueue(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	require.NoError(t, first.Start(ctx, queue))
	require.NoError(t, second.Start(ctx, other))

	assert.Equal(t, "existing", next(t, queue).Name, "objects of the initial list are mapped")
	assert.Equal(t, "existing", next(t, other).Name, "the second source gets the initial list too")

	// The reflector's watch starts after its list: wait until creates are seen, then check update and delete.
	resource := client.Resource(secrets).Namespace("app")
	_, err := resource.(metadatafake.MetadataClient).CreateFake(secretMeta("app", "added"), metav1.CreateOptions{})
	require.NoError(t, err)
	assert.Equal(t, "added", next(t, queue).Name, "an added object is mapped")
	assert.Equal(t, "added", next(t, other).Name, "the second source too")

	changed := secretMeta("app", "added")
	changed.Labels = map[string]string{"changed": "yes"}
	_, err = resource.(metadatafake.MetadataClient).UpdateFake(changed, metav1.UpdateOptions{})
	require.NoError(t, err)
	assert.Equal(t, "added", next(t, queue).Name, "a changed object is mapped")
	assert.Equal(t, "added", next(t, other).Name, "the second source too")

	require.NoError(t, resource.Delete(ctx, "existing", metav1.DeleteOptions{}))
	assert.Equal(t, "existing", next(t, queue).Name, "a deleted object is mapped")
	assert.Equal(t, "existing", next(t, other).Name, "the second source too")
}

func newQueue(t *testing.T) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	t.Cleanup(queue.ShutDown)
	return queue
}

// TestListedObjectsWaitBehindChanges: with a priority queue, what a (re)list maps goes in at low priority, so a
// change seen afterwards is reconciled first (a new leader's warm-up list must not delay a change).
func TestListedObjectsWaitBehindChanges(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("test")
	t.Cleanup(q.ShutDown)
	byName := func(_ context.Context, m *metav1.PartialObjectMetadata) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: m.Name}}}
	}
	e := enqueuer{&subscriber{ctx: context.Background(), queue: q, mapFn: byName}}
	object := func(name string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	require.NoError(t, e.Replace([]any{object("listed-1"), object("listed-2")}, "1"))
	require.NoError(t, e.Update(object("changed")))

	req, priority, _ := q.GetWithPriority()
	assert.Equal(t, "changed", req.Name)
	assert.Zero(t, priority)
	_, priority, _ = q.GetWithPriority()
	assert.Equal(t, handler.LowPriority, priority)
}
