package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/webhook"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestAUserCannotBorrowTheOperatorsRights(t *testing.T) {
	src, mine, theirs := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "mine"), kit.NewNamespace(t, "theirs")
	user := fmt.Sprintf("alice-%d", harness.Unique())
	alice := env.AsUser(t, user)
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	env.Grant(t, user, src, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch")
	env.Grant(t, user, mine, "", []string{"configmaps"}, "create", "update", "delete")

	// Alice cannot read the source: the operator must not read it for her.
	cms := v1Sync(src, "borrow", "settings", mine)
	err := alice.Create(context.Background(), cms)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf(`get configmaps "settings" in namespace %q`, src))
	assert.True(t, kit.Absent(t, v1Sync(src, "borrow", "settings")))

	// With read access to the source, she still cannot write into a namespace she cannot write.
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	err = alice.Create(context.Background(), v1Sync(src, "borrow", "settings", mine, theirs))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("create configmaps in namespace %q", theirs))
	assert.NotContains(t, err.Error(), fmt.Sprintf("in namespace %q", mine))

	// A selector reaches every namespace, so it needs cluster-wide rights.
	bySelector := v1Sync(src, "selector", "settings")
	bySelector.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	err = alice.Create(context.Background(), bySelector)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in all namespaces")

	// Within her rights, it works, and the object records who asked, whatever she claims.
	allowed := v1Sync(src, "allowed", "settings", mine)
	allowed.Annotations = map[string]string{webhook.RequestedByAnnotation: "someone-else"}
	require.NoError(t, alice.Create(context.Background(), allowed))
	assert.Equal(t, user, allowed.Annotations[webhook.RequestedByAnnotation])
	harness.Eventually(t, k8s, harness.ConfigMap(mine, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v", cp.Data["k"])
	})

	// Widening it later is checked again.
	err = tryUpdateAs(alice, allowed, func() { allowed.Spec.Destination.Namespaces = []string{mine, theirs} })
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("create configmaps in namespace %q", theirs))

	// An edit that leaves source and destinations alone keeps the recorded requester.
	require.NoError(t, tryUpdate(allowed, func() { allowed.Annotations[webhook.RequestedByAnnotation] = "mallory" }))
	got := &syncv1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(allowed), got))
	assert.Equal(t, user, got.Annotations[webhook.RequestedByAnnotation])
}
