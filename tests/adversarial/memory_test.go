package adversarial

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// Memory inflation: how many labelled objects bob creates, how big, and how much the operator's heap may grow.
const (
	inflatingConfigMaps = 50
	inflatingSecrets    = 10
	inflatingSize       = 900 << 10
	// heapGrowthBound is far above what the operator's own view of 60 objects costs (a few KiB each) and far
	// below their 53 MiB of data: holding even a sixth of it fails.
	heapGrowthBound = 8 << 20
)

// TestLabelledObjectsOfATenantDoNotFillTheOperatorsMemory: bob creates, in his own namespace, 50 ConfigMaps and 10
// Secrets of 900 KiB carrying the operator's managed-by label, some also with a forged owner-uid, owner,
// content-hash or proof (every variant the operator's cache has treated differently). The operator runs in this
// process: its live heap, measured after a full collection, must not grow with their data. It is measured
// without looking into the cache, so it holds whatever the cache stores.
//
// Not parallel: the heap is measured while nothing else runs in the suite.
func TestLabelledObjectsOfATenantDoNotFillTheOperatorsMemory(t *testing.T) {
	ctx := context.Background()
	b1 := harness.NewNamespace(t, admin, "b1")
	bob := newTenant(t, "bob", b1)
	// A real ConfigMapSync of bob's, for values to forge and, later, as a barrier.
	harness.Create(t, bob, harness.ConfigMap(b1, "bob-src", map[string]string{"k": "v"}))
	cms := newSync(b1, "bob", "bob-src", "bob-copy", b1)
	harness.Create(t, bob, cms)
	harness.Ready(t, admin, cms)
	own := &corev1.ConfigMap{}
	require.NoError(t, bob.Get(ctx, client.ObjectKey{Namespace: b1, Name: "bob-copy"}, own))
	forged := claimFrom(own)
	variants := []forgery{
		{managedBy: true},
		{managedBy: true, ownerUID: true},
		{managedBy: true, ownerUID: true, owner: true},
		{managedBy: true, contentHash: true},
		{managedBy: true, ownerUID: true, owner: true, contentHash: true, proof: true},
	}

	before := liveHeap()
	payload := strings.Repeat("x", inflatingSize)
	var objs []client.Object
	for i := range inflatingConfigMaps + inflatingSecrets {
		labels, annotations := variants[i%len(variants)].metadata(forged)
		meta := metav1.ObjectMeta{Namespace: b1, Name: fmt.Sprintf("inflate-%02d", i), Labels: labels, Annotations: annotations}
		if i < inflatingConfigMaps {
			objs = append(objs, &corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"blob": payload}})
		} else {
			objs = append(objs, &corev1.Secret{ObjectMeta: meta, Data: map[string][]byte{"blob": []byte(payload)}})
		}
	}
	start := time.Now()
	createAll(t, bob, objs)
	t.Logf("bob created %d labelled objects in %s", len(objs), time.Since(start).Round(time.Millisecond))
	// They stay until the control plane stops, like everything in this suite's namespaces (no namespace
	// controller runs): deleting 53 MiB would cost the suite as long as creating it did.
	clear(objs) // This test's own copies of the data are garbage from here on (payload is dead past its last use).

	// Barrier: a source change that the operator copies is seen after the objects above in the ConfigMap watch.
	src := harness.ConfigMap(b1, "bob-src", nil)
	update(t, bob, src, func() { src.Data = map[string]string{"k": "after"} })
	harness.Eventually(t, admin, harness.ConfigMap(b1, "bob-copy", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "after", cp.Data["k"])
	})
	harness.Ready(t, admin, cms)

	grown := settledGrowth(before)
	total := (inflatingConfigMaps + inflatingSecrets) * inflatingSize
	t.Logf("live heap grew by %.1f MiB for %.1f MiB of labelled objects", float64(grown)/(1<<20), float64(total)/(1<<20))
	assert.Less(t, grown, uint64(heapGrowthBound),
		"the operator holds the data of objects it did not write: its heap grew by %.1f MiB for %.1f MiB of bob's labelled objects",
		float64(grown)/(1<<20), float64(total)/(1<<20))
}

// settledGrowth returns how much the live heap has grown since before once it stops moving: the operator's
// watches deliver the objects a moment after the barrier, and what it holds for good stays.
func settledGrowth(before uint64) uint64 {
	time.Sleep(time.Second)
	last := liveHeap()
	for range 20 {
		time.Sleep(250 * time.Millisecond)
		now := liveHeap()
		if max(now, last)-min(now, last) < 1<<20 {
			last = now
			break
		}
		last = now
	}
	return max(last, before) - before
}

// liveHeap returns the bytes of the heap in use after a full collection: what this process (the operator, the
// tests' clients) holds, not what it has yet to collect.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC() // The first frees what finalizers released; the second what they held.
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// createAll creates objs with c, four at a time.
func createAll(t *testing.T, c client.Client, objs []client.Object) {
	t.Helper()
	errs := make([]error, len(objs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, obj := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = c.Create(context.Background(), obj)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
