package configmapsync

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// --- Manual strategy ------------------------------------------------------------------------------------------

func TestReconcile_ManualStrategy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }), newSourceConfigMap())

	res := e.mustReconcile()
	assert.Zero(t, res.RequeueAfter, "Manual does not resync on a timer")
	cms := e.cms()
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	for _, ns := range testDestinations {
		require.NotNil(t, e.copyIn(ns))
	}

	// A changed source is not synced without a request.
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	res = e.mustReconcile()
	assert.Zero(t, res.RequeueAfter)
	assert.Empty(t, e.recordedWrites(), "Manual writes nothing without a sync request")
	assert.Equal(t, "value", e.copyIn("ns-a").Data["key"])

	// A hand-edited copy is not restored either.
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-b")
		cp.Data["key"] = "hacked"
		require.NoError(t, c.Update(t.Context(), cp))
	})
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())

	requestSyncOnce(t, e)
}

// newManualEnv returns an environment with a Manual ConfigMapSync synced once at creation, and its source changed
// since.
func newManualEnv(t *testing.T) *cmsEnv {
	t.Helper()
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	return e
}

// requestSyncOnce asks for a sync and checks that it is done and recorded once.
func requestSyncOnce(t *testing.T, e *cmsEnv) {
	t.Helper()
	e.setup(func(c client.Client) {
		cms := e.cms()
		metav1.SetMetaDataAnnotation(&cms.ObjectMeta, syncv1.SyncNowAnnotation, "2024-01-01T00:00:00Z")
		require.NoError(t, c.Update(t.Context(), cms))
	})
	res := e.mustReconcile()
	assert.Zero(t, res.RequeueAfter)
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], ns)
	}
	cms := e.cms()
	assert.Equal(t, "2024-01-01T00:00:00Z", cms.Status.LastHandledSyncRequest)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)

	// The same request is not handled twice.
	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())
}

func TestReconcile_ManualStrategySyncsANewGeneration(t *testing.T) {
	e := newManualEnv(t)
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "newer"
		require.NoError(t, c.Update(t.Context(), src))
		cms := e.cms()
		cms.Spec.SyncFrequency = "10m"
		cms.Generation = 2
		require.NoError(t, c.Update(t.Context(), cms))
	})
	e.mustReconcile()
	assert.Equal(t, "newer", e.copyIn("ns-a").Data["key"])
	assert.EqualValues(t, 2, e.cms().Status.ObservedGeneration)
}

func TestReconcile_ManualSyncRequestFailingTransientlyIsRetried(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.SyncStrategy = syncv1.SyncStrategyManual
		c.Annotations = map[string]string{syncv1.SyncNowAnnotation: "r1"}
	}), newSourceConfigMap())
	e.setFault(failCreateInB(apierrors.NewServiceUnavailable("down")))
	_, err := e.reconcile()
	require.Error(t, err)
	assert.Empty(t, e.cms().Status.LastHandledSyncRequest, "a failed request is not marked handled")

	e.setFault(nil)
	e.mustReconcile()
	assert.NotNil(t, e.copyIn("ns-b"))
	assert.Equal(t, "r1", e.cms().Status.LastHandledSyncRequest)
}

func TestReconcile_ManualFirstSyncFailingTransientlyIsRetried(t *testing.T) {
	// Without a sync request, the first sync of a Manual ConfigMapSync is only due while observedGeneration lags:
	// a transient failure must leave it lagging, or the copy is never made.
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }), newSourceConfigMap())
	e.setFault(failCreateInB(apierrors.NewServiceUnavailable("down")))
	_, err := e.reconcile()
	require.Error(t, err)

	e.setFault(nil)
	e.mustReconcile()
	assert.NotNil(t, e.copyIn("ns-b"), "the failed destination is retried")
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
}

// Under Manual, a ConfigMapSync created before its source says the copies are made "when it returns"; they must be.
func TestReconcile_ManualStrategySyncsWhenSourceAppearsAfterCreation(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }))
	e.mustReconcile()
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSourceNotFound)
	assert.Contains(t, cmsCondition(cms, syncv1.ReadyCondition).Message, "synced when it returns")

	e.setup(func(c client.Client) { require.NoError(t, c.Create(t.Context(), newSourceConfigMap())) })
	e.mustReconcile() // what the source watch triggers
	cms = e.cms()
	assert.NotNil(t, e.copyIn("ns-a"), "the source appeared but no copy was made")
	if c := cmsCondition(cms, syncv1.ReadyCondition); assert.NotNil(t, c) {
		assert.NotEqual(t, syncv1.ReasonSourceNotFound, c.Reason, "Ready still says SourceNotFound though the source exists")
	}
}
