package integration

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// waitFor and tick are the harness's: a deadline for failure and a polling interval, never a performance assertion.
const (
	waitFor = harness.WaitFor
	tick    = harness.Tick
)

// clientKey returns the namespace/name key of obj.
func clientKey(obj client.Object) client.ObjectKey { return client.ObjectKeyFromObject(obj) }

// update applies mutate to the latest version of obj and writes it, retrying when the operator wrote in between.
func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	require.NoError(t, tryUpdate(obj, mutate))
}

// tryUpdate is update that returns the error instead of failing the test.
func tryUpdate(obj client.Object, mutate func()) error { return tryUpdateAs(k8s, obj, mutate) }

// tryUpdateAs is tryUpdate with another client, a user's.
func tryUpdateAs(c client.Client, obj client.Object, mutate func()) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return c.Update(context.Background(), obj)
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
	require.NoError(t, k8s.List(context.Background(), list, client.MatchingLabels{syncv1.OwnerUIDLabel: string(cms.UID)}))
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

// writesIn returns the writes the operator made to objects in the given namespaces.
func writesIn(namespaces ...string) []harness.Write {
	return env.Calls.Writes(func(w harness.Write) bool { return slices.Contains(namespaces, w.Namespace) })
}

// deleteAndWait deletes obj and waits until it is gone. Gone means that object, by UID: the operator may already
// have created its own object of the same name in its place (a copy that was blocked by obj).
func deleteAndWait(t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, client.IgnoreNotFound(k8s.Delete(context.Background(), obj)))
	uid := obj.GetUID()
	require.Eventually(t, func() bool { return kit.Absent(t, obj) || (uid != "" && obj.GetUID() != uid) }, waitFor, tick,
		"%T %s should be deleted", obj, clientKey(obj))
}
