package adversarial

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestRightsRevokedAfterCreationStopWritesThere: alice creates a ConfigMapSync into a-1 and a-2, which the
// admission webhook allows; then the admin takes away her rights in a-2. The operator, which acted on her behalf,
// stops writing there (after at most a short authorization cache): source changes keep reaching a-1 and no
// longer reach a-2, whose copy is kept; and the ConfigMapSync is not Ready, naming what is missing.
func TestRightsRevokedAfterCreationStopWritesThere(t *testing.T) {
	t.Parallel()
	a1, a2 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "a2")
	alice := newTenant(t, "alice", a1, a2)
	src := harness.ConfigMap(a1, "src", map[string]string{"k": "v0"})
	harness.Create(t, alice, src)
	cms := newSync(a1, "settings", "src", "settings", a1, a2)
	harness.Create(t, alice, cms)
	harness.Ready(t, admin, cms)

	revoke(t, alice.name, a2)

	// Change the source until a change reaches a-1 and, for a while after, not a-2: the operator may act on a
	// cached authorization for a short time, but not for ever.
	stopped := false
	deadline := time.Now().Add(waitFor)
	for i := 1; !stopped && time.Now().Before(deadline); i++ {
		value := fmt.Sprintf("v%d", i)
		update(t, alice, src, func() { src.Data = map[string]string{"k": value} })
		harness.Eventually(t, admin, harness.ConfigMap(a1, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, value, cp.Data["k"])
		})
		stopped = !reachesWithin(a2, "settings", value, settle)
	}
	require.True(t, stopped, "the operator kept writing alice's copy into %s for %s after her rights there were revoked", a2, waitFor)
	assert.False(t, harness.Absent(t, admin, harness.ConfigMap(a2, "settings", nil)), "the copy in %s is kept", a2)
	assertReportsRevokedRights(t, cms, a2)
}

// reachesWithin reports whether the ConfigMap namespace/name holds value under key k within d.
func reachesWithin(namespace, name, value string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		cp := &corev1.ConfigMap{}
		if err := admin.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, cp); err == nil && cp.Data["k"] == value {
			return true
		}
		time.Sleep(tick)
	}
	return false
}

// assertReportsRevokedRights checks that cms tells its owner that a destination's rights are gone: Ready is False
// with reason AccessRevoked, and the destination is Forbidden with a message naming a missing permission there.
func assertReportsRevokedRights(t *testing.T, cms *syncv1.ConfigMapSync, namespace string) {
	t.Helper()
	harness.Eventually(t, admin, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.NotEqual(c, metav1.ConditionTrue, readyStatus(cms), "Ready while the requester may no longer write to %s", namespace)
		ready := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, ready) {
			assert.Equal(c, syncv1.ReasonAccessRevoked, ready.Reason)
		}
		state, message := destinationState(cms, namespace)
		assert.Equal(c, syncv1.DestinationForbidden, state, "destination %s", namespace)
		assert.Contains(c, message, fmt.Sprintf("in namespace %q", namespace), "the message names the missing permission")
	})
}
