package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestAdoptTakesOverAnExistingCopyAndItFollowsTheDeletionPolicy(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v2"}))
	// What kubernetes-replicator or reflector left there: the apps read it, so it must never be missing.
	left := harness.ConfigMap(dst, "settings", map[string]string{"k": "v1"})
	left.Annotations = map[string]string{"replicator.v1.mittwald.de/replicated-from-version": "12"}
	kit.Create(t, left)

	refusing := v1Sync(src, "refuse", "settings", dst)
	kit.Create(t, refusing)
	harness.Eventually(t, k8s, refusing, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus, "Refuse is the default")
	})
	deleteAndWait(t, refusing)

	cms := v1Sync(src, "adopt", "settings", dst)
	cms.Spec.ConflictPolicy = syncv1.ConflictPolicyAdopt
	kit.Create(t, cms)
	kit.Ready(t, cms)
	got := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(got), got))
	assert.Equal(t, left.UID, got.UID, "updated in place: never missing for the apps")
	assert.Equal(t, "v2", got.Data["k"])
	assert.Equal(t, string(cms.UID), got.Labels[syncv1.OwnerUIDLabel])
	assert.NotEmpty(t, got.Annotations[syncv1.AdoptedAnnotation], "the adoption is recorded on the object")
	assert.True(t, hasEvent(t, cms, "Adopted"))

	// It stays recorded through later syncs, and the adopted copy goes with the ConfigMapSync (deletionPolicy Delete).
	source := harness.ConfigMap(src, "settings", nil)
	update(t, source, func() { source.Data["k"] = "v3" })
	harness.Eventually(t, k8s, got, func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v3", cp.Data["k"])
		assert.NotEmpty(c, cp.Annotations[syncv1.AdoptedAnnotation])
	})
	deleteAndWait(t, cms)
	assert.True(t, kit.Absent(t, got))
}

func TestAdoptNeverTakesAnotherConfigMapSyncsCopy(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "first"}))
	kit.Create(t, harness.ConfigMap(src, "other", map[string]string{"k": "second"}))
	first := v1Sync(src, "first", "settings", dst)
	kit.Create(t, first)
	kit.Ready(t, first)

	second := v1Sync(src, "second", "other", dst)
	second.Spec.Destination.Name = "settings"
	second.Spec.ConflictPolicy = syncv1.ConflictPolicyAdopt
	kit.Create(t, second)
	harness.Eventually(t, k8s, second, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	})
	got := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(got), got))
	assert.Equal(t, "first", got.Data["k"])
	assert.Equal(t, string(first.UID), got.Labels[syncv1.OwnerUIDLabel])
}

func TestAdoptingWithoutTheRightToUpdateTheObjectIsRefused(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	user := fmt.Sprintf("bob-%d", harness.Unique())
	bob := env.AsUser(t, user)
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	kit.Create(t, harness.ConfigMap(dst, "settings", map[string]string{"k": "someone else's"}))
	env.Grant(t, user, src, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch")
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	env.Grant(t, user, dst, "", []string{"configmaps"}, "create", "delete")

	cms := v1Sync(src, "take", "settings", dst)
	cms.Spec.ConflictPolicy = syncv1.ConflictPolicyAdopt
	err := bob.Create(context.Background(), cms)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("update configmaps in namespace %q", dst))
	assert.True(t, kit.Absent(t, v1Sync(src, "take", "settings")))
	got := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(got), got))
	assert.Equal(t, "someone else's", got.Data["k"])
}
