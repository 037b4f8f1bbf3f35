package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

const (
	// waitFor bounds how long a test waits for the operator to converge; it is a deadline for failure, not a
	// performance assertion (timings are measured by `make bench`).
	waitFor = 30 * time.Second
	tick    = 100 * time.Millisecond
)

var namespaceCounter atomic.Int64

// newNamespace creates a namespace with a unique name for one test and deletes it when the test ends.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.ToLower(prefix), time.Now().UnixNano()%100000, namespaceCounter.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	require.NoError(t, k8s.Create(context.Background(), ns))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return name
}

// create creates obj and fails the test on error.
func create(t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, k8s.Create(context.Background(), obj))
}

// configMap returns a ConfigMap with the given data.
func configMap(namespace, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: data}
}

// eventually waits until get finds the object and check passes on it.
func eventually[T client.Object](t *testing.T, obj T, check func(c *assert.CollectT, obj T)) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		if !assert.NoError(c, k8s.Get(context.Background(), key, obj)) {
			return
		}
		check(c, obj)
	}, waitFor, tick)
}

// absent reports whether the object does not exist.
func absent(t *testing.T, obj client.Object) bool {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	return apierrors.IsNotFound(err)
}

// clientKey returns the namespace/name key of obj.
func clientKey(obj client.Object) client.ObjectKey { return client.ObjectKeyFromObject(obj) }

// update applies mutate to the latest version of obj and writes it, retrying when the operator wrote in between.
func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	require.NoError(t, tryUpdate(obj, mutate))
}

// tryUpdate is update that returns the error instead of failing the test.
func tryUpdate(obj client.Object, mutate func()) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return k8s.Update(context.Background(), obj)
	})
}

// v1Sync returns a v1 ConfigMapSync in namespace that copies source (a ConfigMap unless kind says otherwise)
// from its own namespace into destinations.
func v1Sync(namespace, name, source string, destinations ...string) *syncv1.ConfigMapSync {
	return &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: source},
			Destination: syncv1.Destination{Namespaces: destinations},
		},
	}
}

// copies lists the operator's copies owned by cms, of the given kind.
func copies(t *testing.T, cms *syncv1.ConfigMapSync, list client.ObjectList) client.ObjectList {
	t.Helper()
	require.NoError(t, k8s.List(context.Background(), list, client.MatchingLabels{syncer.OwnerUIDLabel: string(cms.UID)}))
	return list
}

// copyNamespaces returns the namespaces holding a ConfigMap copy owned by cms, sorted.
func copyNamespaces(t *testing.T, cms *syncv1.ConfigMapSync) []string {
	t.Helper()
	list := copies(t, cms, &corev1.ConfigMapList{}).(*corev1.ConfigMapList)
	out := make([]string, 0, len(list.Items))
	for _, cm := range list.Items {
		out = append(out, cm.Namespace)
	}
	slices.Sort(out)
	return out
}

// ready waits until cms reports Ready=True for its current generation.
func ready(t *testing.T, cms *syncv1.ConfigMapSync) {
	t.Helper()
	eventually(t, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, metav1.ConditionTrue, cond.Status, cond.Message)
			assert.Equal(c, cms.Generation, cond.ObservedGeneration)
		}
	})
}

// writesIn returns the writes the operator made to objects in the given namespaces.
func writesIn(namespaces ...string) []harness.Write {
	return env.Calls.Writes(func(w harness.Write) bool { return slices.Contains(namespaces, w.Namespace) })
}

// deleteAndWait deletes obj and waits until it is gone.
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, client.IgnoreNotFound(k8s.Delete(context.Background(), obj)))
	require.Eventually(t, func() bool { return absent(t, obj) }, waitFor, tick, "%T %s should be deleted", obj, clientKey(obj))
}
