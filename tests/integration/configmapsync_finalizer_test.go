package integration

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestDeletingAConfigMapSyncDeletesEveryCopy(t *testing.T) {
	src, a, b := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "a"), kit.NewNamespace(t, "b")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "cleanup", "settings", a, b)
	kit.Create(t, cms)
	kit.Ready(t, cms)
	assert.Contains(t, cms.Finalizers, syncv1.Finalizer)

	deleteAndWait(t, cms)
	assert.Empty(t, copyNamespaces(t, cms), "no copy may outlive its ConfigMapSync")
	assert.False(t, kit.Absent(t, harness.ConfigMap(src, "settings", nil)), "the source is never touched")
}

func TestTheOrphanPolicyKeepsTheCopiesAndReleasesThem(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "orphan", "settings", dst)
	cms.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan
	kit.Create(t, cms)
	kit.Ready(t, cms)

	deleteAndWait(t, cms)
	kept := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(kept), kept))
	assert.Equal(t, "v", kept.Data["k"])
	assert.NotContains(t, kept.Labels, syncv1.ManagedByLabel)
	assert.NotContains(t, kept.Labels, syncv1.OwnerUIDLabel)
	assert.NotContains(t, kept.Annotations, syncv1.OwnerAnnotation)
}

func TestFailedDeletesKeepTheFinalizerAndAreRetriedUntilNoCopyIsLeft(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "retry", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	env.Calls.FailDeletes(dst, 3)
	require.NoError(t, k8s.Delete(context.Background(), cms))

	// While deletes fail, the ConfigMapSync stays and says why.
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.DeletingCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, syncv1.ReasonCleanupFailed, cond.Reason)
		}
		assert.Contains(c, cms.Finalizers, syncv1.Finalizer)
	})
	assert.True(t, hasEvent(t, cms, syncv1.ReasonCleanupFailed))

	// The operator retries with backoff; once a delete goes through, the copy and then the ConfigMapSync go.
	require.Eventually(t, func() bool { return kit.Absent(t, cms) }, waitFor, tick)
	assert.True(t, kit.Absent(t, harness.ConfigMap(dst, "settings", nil)))
}

func TestCleanupSurvivesAnOperatorRestart(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "restart", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	// Cleanup starts and fails; the operator stops mid-way.
	env.Calls.FailDeletes(dst, 1000)
	require.NoError(t, k8s.Delete(context.Background(), cms))
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.True(c, meta.IsStatusConditionTrue(cms.Status.Conditions, syncv1.DeletingCondition))
	})
	stopOperator()
	env.Calls.FailDeletes(dst, 0)

	// A new operator process finds the copies by label, not from memory, and finishes the job.
	startOperator(t)
	require.Eventually(t, func() bool { return kit.Absent(t, cms) }, waitFor, tick)
	assert.True(t, kit.Absent(t, harness.ConfigMap(dst, "settings", nil)))
}

// hasEvent waits until an event with reason is recorded for cms, and reports whether one was.
func hasEvent(t *testing.T, cms *syncv1.ConfigMapSync, reason string) bool {
	t.Helper()
	return assert.EventuallyWithT(t, func(c *assert.CollectT) {
		list := &eventsv1.EventList{}
		if !assert.NoError(c, k8s.List(context.Background(), list, client.InNamespace(cms.Namespace))) {
			return
		}
		assert.True(c, slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Regarding.Name == cms.Name && e.Reason == reason
		}), "event %s for %s", reason, cms.Name)
	}, waitFor, tick)
}
