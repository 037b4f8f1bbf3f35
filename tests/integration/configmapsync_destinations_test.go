package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestACopyLandsInEveryListedNamespace(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	dsts := make([]string, 0, 40)
	for range 40 {
		dsts = append(dsts, kit.NewNamespace(t, "many"))
	}
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "fan-out", "settings", dsts...)
	kit.Create(t, cms)

	kit.Ready(t, cms)
	slices.Sort(dsts)
	assert.Equal(t, dsts, copyNamespaces(t, cms))
	assert.Equal(t, int32(40), cms.Status.DesiredDestinations)
	assert.Equal(t, int32(40), cms.Status.SyncedDestinations)
}

func TestASelectorFollowsNamespacesAsTheyComeAndGo(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	label := fmt.Sprintf("team-%d", harness.Unique())
	selected := labelledNamespace(t, label)
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "by-label", "settings")
	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"configmapsync-test": label}}
	kit.Create(t, cms)
	kit.Ready(t, cms)
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
	src, a, b := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "a"), kit.NewNamespace(t, "b")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "prune", "settings", a, b)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	update(t, cms, func() { cms.Spec.Destination.Namespaces = []string{b} })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{b}, copyNamespaces(t, cms))
	}, waitFor, tick)

	update(t, cms, func() { cms.Spec.Destination.Name = "renamed" })
	harness.Eventually(t, k8s, harness.ConfigMap(b, "renamed", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v", cp.Data["k"])
	})
	require.Eventually(t, func() bool { return kit.Absent(t, harness.ConfigMap(b, "settings", nil)) }, waitFor, tick)
}

func TestAListedNamespaceThatDoesNotExistYetIsReportedAndSyncedWhenCreated(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	future := fmt.Sprintf("future-%d", harness.Unique())
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "future", "settings", future)
	kit.Create(t, cms)
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		if assert.Len(c, cms.Status.Destinations, 1) {
			assert.Equal(c, syncv1.DestinationNamespaceNotFound, cms.Status.Destinations[0].State)
		}
	})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: future}}
	kit.Create(t, ns)
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	harness.Eventually(t, k8s, harness.ConfigMap(future, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v", cp.Data["k"])
	})
}

func TestExcludedNamespacesAreNeverWrittenAndTheirCopiesArePruned(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	label := fmt.Sprintf("team-%d", harness.Unique())
	a, b := labelledNamespace(t, label), labelledNamespace(t, label)
	offLimits := labelledNamespaceNamed(t, operatorExcluded, label) // the operator's --excluded-namespaces
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "exclusions", "settings", offLimits)
	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"configmapsync-test": label}}
	kit.Create(t, cms)
	kit.Ready(t, cms)
	assert.ElementsMatch(t, []string{a, b}, copyNamespaces(t, cms), "listed and selected, the operator's exclusion wins")
	assert.Contains(t, cms.Status.Destinations, syncv1.DestinationStatus{Namespace: offLimits, State: syncv1.DestinationExcluded,
		Message: "excluded by spec.destination.excludeNamespaces or the operator's --excluded-namespaces; no copy is written there"})
	assert.EqualValues(t, 2, cms.Status.DesiredDestinations)

	// Excluding a namespace by glob prunes the copy already there.
	update(t, cms, func() { cms.Spec.Destination.ExcludeNamespaces = []string{b[:4] + "*" + b[len(b)-2:]} })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{a}, copyNamespaces(t, cms))
	}, waitFor, tick)
}

func TestExcludingTheSourceNamespaceLeavesTheSourceAloneAndTheRestSynced(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "v"})
	kit.Create(t, source)
	cms := v1Sync(src, "not-home", "settings", src, dst)
	cms.Spec.Destination.Name = "settings-copy" // would be written next to the source, but for the exclusion
	cms.Spec.Destination.ExcludeNamespaces = []string{src}
	kit.Create(t, cms)
	kit.Ready(t, cms)
	assert.Equal(t, []string{dst}, copyNamespaces(t, cms))
	assert.True(t, kit.Absent(t, harness.ConfigMap(src, "settings-copy", nil)))
	got := harness.ConfigMap(src, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(got), got))
	assert.Equal(t, source.ResourceVersion, got.ResourceVersion, "the source is untouched")
}

func labelledNamespace(t *testing.T, label string) string {
	t.Helper()
	return labelledNamespaceNamed(t, "sel", label)
}

// labelledNamespaceNamed creates a namespace whose name starts with prefix, labelled for a selector to match.
func labelledNamespaceNamed(t *testing.T, prefix, label string) string {
	t.Helper()
	name := kit.NewNamespace(t, strings.TrimSuffix(prefix, "-"))
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
