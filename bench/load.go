package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// workers is how many requests the bench (and every direct baseline) has in flight: the operator's default
// --max-parallel-writes, so that a baseline does what the operator could do at best.
const workers = 16

// valueKey is the data key whose value tells the bench which version of a source a copy holds.
const valueKey = "v"

// parallel calls fn(ctx, i) for i in [0, n) from `workers` goroutines and returns the first error; after an
// error the remaining calls are skipped.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The cause is fn's error, or the parent's when it was cancelled; nil when every call succeeded.
	return context.Cause(ctx)
}

// timed runs fn and returns how long it took.
func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// createNamespaces creates the namespaces prefix-0 ... prefix-(n-1) with the given labels.
func createNamespaces(ctx context.Context, c client.Client, prefix string, n int, lbls map[string]string) ([]string, error) {
	return createLabeledNamespaces(ctx, c, prefix, n, func(int) map[string]string { return lbls })
}

// createLabeledNamespaces creates the namespaces prefix-0 ... prefix-(n-1), namespace i with the labels
// labelsOf(i).
func createLabeledNamespaces(ctx context.Context, c client.Client, prefix string, n int, labelsOf func(i int) map[string]string) ([]string, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	err := parallel(ctx, n, func(ctx context.Context, i int) error {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i], Labels: labelsOf(i)}}
		if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", names[i], err)
		}
		return nil
	})
	return names, err
}

// maxPayload is the largest payload sizedConfigMap puts in a ConfigMap: the API server rejects a ConfigMap whose
// data (keys and values together) exceeds 1 MiB, so 1 KiB of it is left to the keys and valueKey's value.
const maxPayload = 1<<20 - 1<<10

// payloads holds one payload string per size: thousands of ConfigMaps of one size share it instead of each
// allocating its own (a 1 MiB fan-out to 1000 namespaces would otherwise cost the bench 1 GiB).
var payloads sync.Map

// payload returns size bytes of deterministic printable content, the same string on every call with that size.
func payload(size int) string {
	if p, ok := payloads.Load(size); ok {
		return p.(string)
	}
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	p, _ := payloads.LoadOrStore(size, string(b))
	return p.(string)
}

// configMap returns a ConfigMap with a 1 KiB payload whose valueKey holds value.
func configMap(namespace, name, value string) *corev1.ConfigMap {
	return sizedConfigMap(namespace, name, value, 1<<10)
}

// sizedConfigMap returns a ConfigMap whose valueKey holds value and whose "payload" key holds size bytes (at most
// maxPayload).
func sizedConfigMap(namespace, name, value string, size int) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Data:       map[string]string{valueKey: value, "payload": payload(min(size, maxPayload))},
	}
}

// watcher follows, through the bench's own informers, the operator's copies (by the value they hold) and the
// ConfigMapSyncs (by readiness), and tells waiters the moment a count reaches what they wait for. It counts as
// events arrive, so a wait costs nothing per object and its end time is the time of the deciding event.
type watcher struct {
	cache cache.Cache

	mu sync.Mutex
	// copies maps "namespace/name" of each copy to its valueKey; byValue counts copies per value.
	copies  map[string]string
	byValue map[string]int
	// ready maps "namespace/name" of each ConfigMapSync to its Ready condition; syncs and readySyncs count them,
	// and the Ready ones, per namespace.
	ready      map[string]bool
	syncs      map[string]int
	readySyncs map[string]int
	waiters    []*waiter
}

// waiter is one goroutine waiting for cond; done is closed with at set when cond first holds.
type waiter struct {
	cond func(w *watcher) bool
	at   time.Time
	done chan struct{}
}

// startWatcher starts informers on the operator's copies (ConfigMaps with its managed-by label, data cut down to
// valueKey) and on ConfigMapSyncs, and waits for them to sync.
func startWatcher(ctx context.Context, c *cluster) (*watcher, error) {
	managed := labels.SelectorFromSet(labels.Set{syncv1.ManagedByLabel: syncv1.ManagedByValue})
	keepValue := func(in any) (any, error) {
		if cm, ok := in.(*corev1.ConfigMap); ok {
			cm.Data = map[string]string{valueKey: cm.Data[valueKey]}
			cm.ManagedFields, cm.Annotations = nil, nil
		}
		return in, nil
	}
	ca, err := cache.New(c.cfg, cache.Options{
		Scheme: operator.NewScheme(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}:     {Label: managed, Transform: keepValue},
			&syncv1.ConfigMapSync{}: {Transform: cache.TransformStripManagedFields()},
		},
	})
	if err != nil {
		return nil, err
	}
	w := &watcher{
		cache: ca, copies: map[string]string{}, byValue: map[string]int{},
		ready: map[string]bool{}, syncs: map[string]int{}, readySyncs: map[string]int{},
	}
	for obj, handler := range map[client.Object]toolscache.ResourceEventHandlerFuncs{
		&corev1.ConfigMap{}:     w.handlers(w.setCopy),
		&syncv1.ConfigMapSync{}: w.handlers(w.setReady),
	} {
		inf, err := ca.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, err
		}
	}
	go func() {
		if err := ca.Start(ctx); err != nil {
			logf("the bench's watches stopped: %v", err)
		}
	}()
	if !ca.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the bench's watches did not sync")
	}
	return w, nil
}

// handlers adapts set(key, obj or nil) to informer callbacks.
func (w *watcher) handlers(set func(key string, obj any)) toolscache.ResourceEventHandlerFuncs {
	key := func(obj any) string {
		if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			return d.Key
		}
		o := obj.(client.Object)
		return o.GetNamespace() + "/" + o.GetName()
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { w.update(func() { set(key(obj), obj) }) },
		UpdateFunc: func(_, obj any) { w.update(func() { set(key(obj), obj) }) },
		DeleteFunc: func(obj any) { w.update(func() { set(key(obj), nil) }) },
	}
}

// update applies change under the lock and wakes the waiters whose condition now holds.
func (w *watcher) update(change func()) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	change()
	kept := w.waiters[:0]
	for _, wt := range w.waiters {
		if wt.cond(w) {
			wt.at = now
			close(wt.done)
			continue
		}
		kept = append(kept, wt)
	}
	w.waiters = kept
}

// setCopy records the value a copy holds; obj nil means it was deleted.
func (w *watcher) setCopy(key string, obj any) {
	if old, ok := w.copies[key]; ok {
		w.byValue[old]--
		delete(w.copies, key)
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok {
		w.copies[key] = cm.Data[valueKey]
		w.byValue[cm.Data[valueKey]]++
	}
}

// setReady records whether a ConfigMapSync is Ready; obj nil means it is gone.
func (w *watcher) setReady(key string, obj any) {
	ns, _, _ := strings.Cut(key, "/")
	if r, ok := w.ready[key]; ok {
		w.syncs[ns]--
		if r {
			w.readySyncs[ns]--
		}
		delete(w.ready, key)
	}
	if cms, ok := obj.(*syncv1.ConfigMapSync); ok {
		r := meta.IsStatusConditionTrue(cms.Status.Conditions, syncv1.ReadyCondition) &&
			cms.Status.ObservedGeneration == cms.Generation
		w.ready[key] = r
		w.syncs[ns]++
		if r {
			w.readySyncs[ns]++
		}
	}
}

// copiesWith is how many copies hold value.
func (w *watcher) copiesWith(value string) int { return w.byValue[value] }

// waitFor blocks until cond holds (checked under the watcher's lock) or timeout, and returns when it first held.
func (w *watcher) waitFor(ctx context.Context, timeout time.Duration, what string, cond func(w *watcher) bool) (time.Time, error) {
	wt := &waiter{cond: cond, done: make(chan struct{})}
	w.mu.Lock()
	if cond(w) {
		w.mu.Unlock()
		return time.Now(), nil
	}
	w.waiters = append(w.waiters, wt)
	w.mu.Unlock()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-wt.done:
		return wt.at, nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	case <-timer.C:
		w.mu.Lock()
		defer w.mu.Unlock()
		w.waiters = slices.DeleteFunc(w.waiters, func(x *waiter) bool { return x == wt })
		return time.Time{}, fmt.Errorf("timed out after %s waiting for %s (copies by value %v; ConfigMapSyncs %v, Ready %v)",
			timeout, what, w.byValue, w.syncs, w.readySyncs)
	}
}
