package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestAResyncWithNothingChangedWritesNothing(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	dsts := []string{kit.NewNamespace(t, "a"), kit.NewNamespace(t, "b"), kit.NewNamespace(t, "c")}
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(src, "quiet", "settings", dsts...)
	kit.Create(t, cms)
	kit.Ready(t, cms)
	// Let the first sync's own follow-up reconciles (its status patch, the copies' create events) settle.
	time.Sleep(time.Second)
	before := len(writesIn(append(dsts, src)...))
	require.NotZero(t, before, "the first sync wrote the copies")

	// Wake the sync ten times without changing anything it copies: a metadata-only change of the source that
	// is not copied, and touches of the ConfigMapSync itself.
	srcCM := harness.ConfigMap(src, "settings", nil)
	for i := range 5 {
		update(t, srcCM, func() {
			if srcCM.Annotations == nil {
				srcCM.Annotations = map[string]string{}
			}
			srcCM.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = fmt.Sprint(i)
		})
		update(t, cms, func() {
			if cms.Annotations == nil {
				cms.Annotations = map[string]string{}
			}
			cms.Annotations["touched"] = fmt.Sprint(i)
		})
	}
	time.Sleep(2 * time.Second)
	after := writesIn(append(dsts, src)...)
	assert.Len(t, after, before, "writes during no-op resyncs: %v", after[before:])

	// The same wake-ups with a real change do write: the counter is not blind.
	update(t, srcCM, func() { srcCM.Data["k"] = "changed" })
	require.Eventually(t, func() bool { return len(writesIn(append(dsts, src)...)) >= before+len(dsts) }, waitFor, tick)
}

func TestTheManualStrategySyncsOnlyWhenAsked(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "v1"})
	kit.Create(t, source)
	cms := v1Sync(src, "manual", "settings", dst)
	cms.Spec.SyncStrategy = syncv1.SyncStrategyManual
	kit.Create(t, cms)
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v1", cp.Data["k"], "the copy is made at creation")
	})
	kit.Ready(t, cms)

	update(t, source, func() { source.Data["k"] = "v2" })
	update(t, cms, func() { cms.Annotations = map[string]string{"poke": "1"} })
	time.Sleep(2 * time.Second)
	cp := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(cp), cp))
	assert.Equal(t, "v1", cp.Data["k"], "a Manual sync does not follow the source on its own")

	update(t, cms, func() { cms.Annotations[syncv1.SyncNowAnnotation] = "2026-11-25T12:00:00Z" })
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v2", cp.Data["k"])
	})
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, "2026-11-25T12:00:00Z", cms.Status.LastHandledSyncRequest)
	})
}

func TestAConflictIsSyncedOnceTheObjectInTheWayIsGone(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "ours"}))
	theirs := harness.ConfigMap(dst, "settings", map[string]string{"k": "theirs"})
	kit.Create(t, theirs)
	cms := v1Sync(src, "blocked", "settings", dst)
	kit.Create(t, cms)
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
		if assert.Len(c, cms.Status.Destinations, 1) {
			assert.Equal(c, syncv1.DestinationConflict, cms.Status.Destinations[0].State)
		}
	})
	assert.True(t, hasEvent(t, cms, syncv1.ReasonConflict))

	deleteAndWait(t, theirs)
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "ours", cp.Data["k"])
	})
	kit.Ready(t, cms)
}

func TestCopiesAreKeptWhileTheSourceIsGoneAndFollowItWhenItReturns(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "first"})
	kit.Create(t, source)
	cms := v1Sync(src, "comeback", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	deleteAndWait(t, source)
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusSourceNotFound, cms.Status.SyncStatus)
	})
	kept := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(kept), kept))
	assert.Equal(t, "first", kept.Data["k"])

	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "second"}))
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "second", cp.Data["k"])
	})
	kit.Ready(t, cms)
}
