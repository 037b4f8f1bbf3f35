package integration

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
