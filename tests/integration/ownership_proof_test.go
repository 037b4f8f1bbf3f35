package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/internal/ownership"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// keySecret is the ownership key Secret of the suite's operator.
func keySecret() *corev1.Secret {
	s := &corev1.Secret{}
	s.Namespace, s.Name = operator.DefaultOptions().Namespace, ownership.SecretName
	return s
}

// stripProof removes the ownership proof from obj, as a copy written by release 0.3.0 (or a tenant) has none.
func stripProof(t *testing.T, obj client.Object) {
	t.Helper()
	update(t, obj, func() {
		annotations := obj.GetAnnotations()
		delete(annotations, syncv1.OwnershipProofAnnotation)
		obj.SetAnnotations(annotations)
	})
}

// TestACopyWithoutProofIsNeverWrittenOutsideTheUpgradeWindow: a copy whose proof is gone (a tenant removed it, or
// it was forged) is no longer the operator's: the next change of the source leaves it as it is, the destination
// is reported as a conflict, and an UnprovenOwnership event names it.
func TestACopyWithoutProofIsNeverWrittenOutsideTheUpgradeWindow(t *testing.T) {
	src, dst := kit.NewNamespace(t, "proof-src"), kit.NewNamespace(t, "proof-dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"v": "1"}))
	cms := v1Sync(src, "proof", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)
	cp := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(cp), cp))
	stripProof(t, cp)

	source := harness.ConfigMap(src, "settings", nil)
	update(t, source, func() { source.Data["v"] = "2" })
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	})
	require.NoError(t, k8s.Get(context.Background(), clientKey(cp), cp))
	assert.Equal(t, "1", cp.Data["v"], "an unproven object is never written")
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, eventReasons(t, cms), syncv1.EventReasonUnprovenOwnership)
	}, waitFor, tick)
}

// TestCopiesWrittenBeforeProofsAreSignedInTheUpgradeWindow: upgrading from 0.3.0, whose copies carry no proof,
// keeps every copy working. The key is created while copies exist, which opens the upgrade window: a copy
// without a proof that claims its ConfigMapSync exactly and stands at one of its destinations is taken as the
// ConfigMapSync's and signed. One that stands elsewhere is left alone (never deleted) and reported.
func TestCopiesWrittenBeforeProofsAreSignedInTheUpgradeWindow(t *testing.T) {
	src, dst, gone := kit.NewNamespace(t, "upg-src"), kit.NewNamespace(t, "upg-dst"), kit.NewNamespace(t, "upg-gone")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"v": "1"}))
	cms := v1Sync(src, "upgrade", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	// As 0.3.0 left things: copies without proofs, one of them in a namespace no longer listed.
	stopOperator()
	cp := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(cp), cp))
	stripProof(t, cp)
	stray := cp.DeepCopy()
	stray.Namespace, stray.ResourceVersion, stray.UID = gone, "", ""
	kit.Create(t, stray)
	require.NoError(t, k8s.Delete(context.Background(), keySecret()))
	t.Cleanup(func() { closeUpgradeWindow(t) })
	startOperator(t)

	harness.Eventually(t, k8s, keySecret(), func(c *assert.CollectT, s *corev1.Secret) {
		assert.Contains(c, s.Annotations, ownership.AcceptUnprovenUntilAnnotation, "the window opens: copies exist")
	})
	source := harness.ConfigMap(src, "settings", nil)
	update(t, source, func() { source.Data["v"] = "2" })
	harness.Eventually(t, k8s, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "2", cp.Data["v"], "the copy from before the proofs is synced")
		view := env.OperatorCopies.View(cp)
		assert.Equal(c, syncer.Proven, view.Verdict, "and signed with the new key")
	})
	kit.Ready(t, cms)
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, eventReasons(t, cms), syncv1.EventReasonUnprovenOwnership)
	}, waitFor, tick)
	require.NoError(t, k8s.Get(context.Background(), clientKey(stray), stray))
	assert.Equal(t, "1", stray.Data["v"], "an unproven object outside the destinations is never written or deleted")
}

// closeUpgradeWindow ends the window a test opened and restarts the operator, so later tests run without it.
func closeUpgradeWindow(t *testing.T) {
	stopOperator()
	s := keySecret()
	require.NoError(t, tryUpdate(s, func() { delete(s.Annotations, ownership.AcceptUnprovenUntilAnnotation) }))
	startOperator(t)
}

// eventReasons returns the reasons of the events recorded about obj.
func eventReasons(t *testing.T, obj client.Object) []string {
	t.Helper()
	list := &eventsv1.EventList{}
	require.NoError(t, k8s.List(context.Background(), list, client.InNamespace(obj.GetNamespace())))
	var out []string
	for _, e := range list.Items {
		if e.Regarding.UID == obj.GetUID() {
			out = append(out, e.Reason)
		}
	}
	return out
}
