package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestACopyLandsInEveryListedNamespace(t *testing.T) {
	src := newNamespace(t, "src")
	dsts := make([]string, 0, 40)
	for range 40 {
		dsts = append(dsts, newNamespace(t, "many"))
	}
	create(t, configMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "fan-out", "settings", dsts...)
	create(t, cms)

	ready(t, cms)
	slices.Sort(dsts)
	assert.Equal(t, dsts, copyNamespaces(t, cms))
	assert.Equal(t, int32(40), cms.Status.DesiredDestinations)
	assert.Equal(t, int32(40), cms.Status.SyncedDestinations)
}

func TestASelectorFollowsNamespacesAsTheyComeAndGo(t *testing.T) {
	src := newNamespace(t, "src")
	label := fmt.Sprintf("team-%d", harness.Unique())
	selected := labelledNamespace(t, label)
	create(t, configMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "by-label", "settings")
	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"configmapsync-test": label}}
	create(t, cms)
	ready(t, cms)
	assert.Equal(t, []string{selected}, copyNamespaces(t, cms))

	// A namespace created later gets its copy without any change to the ConfigMapSync.
	later := labelledNamespace(t, label)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.ElementsMatch(c, []string{selected, later}, copyNamespaces(t, cms))
	}, waitFor, tick)

	// A namespace that stops matching loses its copy.
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: selected}}), ns))
	update(t, ns, func() { delete(ns.Labels, "configmapsync-test") })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{later}, copyNamespaces(t, cms))
	}, waitFor, tick)
}

func TestUnlistingANamespaceOrRenamingTheCopyPrunesTheOldCopy(t *testing.T) {
	src, a, b := newNamespace(t, "src"), newNamespace(t, "a"), newNamespace(t, "b")
	create(t, configMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "prune", "settings", a, b)
	create(t, cms)
	ready(t, cms)

	update(t, cms, func() { cms.Spec.Destination.Namespaces = []string{b} })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{b}, copyNamespaces(t, cms))
	}, waitFor, tick)

	update(t, cms, func() { cms.Spec.Destination.Name = "renamed" })
	eventually(t, configMap(b, "renamed", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v", cp.Data["k"])
	})
	require.Eventually(t, func() bool { return absent(t, configMap(b, "settings", nil)) }, waitFor, tick)
}

func TestAListedNamespaceThatDoesNotExistYetIsReportedAndSyncedWhenCreated(t *testing.T) {
	src := newNamespace(t, "src")
	future := fmt.Sprintf("future-%d", harness.Unique())
	create(t, configMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "future", "settings", future)
	create(t, cms)
	eventually(t, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		if assert.Len(c, cms.Status.Destinations, 1) {
			assert.Equal(c, syncv1.DestinationNamespaceNotFound, cms.Status.Destinations[0].State)
		}
	})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: future}}
	create(t, ns)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	eventually(t, configMap(future, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v", cp.Data["k"])
	})
}

func labelledNamespace(t *testing.T, label string) string {
	t.Helper()
	name := newNamespace(t, "sel")
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}), ns))
	update(t, ns, func() {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels["configmapsync-test"] = label
	})
	return name
}
