package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestASecretIsCopiedWithItsType(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "db", Labels: map[string]string{"tier": "db"}},
		Type:       "example.com/database",
		Data:       map[string][]byte{"password": []byte("s3cr3t"), "blob": {0, 1, 2, 255}},
	}
	kit.Create(t, secret)
	cms := v1Sync(src, "secret", "db", dst)
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	kit.Create(t, cms)

	harness.Eventually(t, k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dst, Name: "db"}}, func(c *assert.CollectT, cp *corev1.Secret) {
		assert.Equal(c, secret.Type, cp.Type)
		assert.Equal(c, secret.Data, cp.Data)
		assert.Equal(c, "db", cp.Labels["tier"])
		assert.Equal(c, syncv1.ManagedByValue, cp.Labels[syncv1.ManagedByLabel])
	})
	kit.Ready(t, cms)
	assert.True(t, hasEvent(t, cms, syncv1.ReasonSynced), "kubectl describe shows when it became Ready")
}

func TestAnImmutableSourceGivesImmutableCopiesThatFollowItsReplacement(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	v1 := harness.ConfigMap(src, "frozen", map[string]string{"version": "1"})
	v1.Immutable = ptr.To(true)
	kit.Create(t, v1)
	cms := v1Sync(src, "frozen", "frozen", dst)
	kit.Create(t, cms)
	first := harness.ConfigMap(dst, "frozen", nil)
	harness.Eventually(t, k8s, first, func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "1", cp.Data["version"])
		assert.Equal(c, ptr.To(true), cp.Immutable, "the copy keeps the source's immutable flag")
	})
	// The API server enforces it: nobody with write access in the destination can edit the copy.
	err := tryUpdate(first, func() { first.Data["version"] = "edited" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field is immutable")

	// An immutable source is changed by replacing it, and so is every copy.
	deleteAndWait(t, v1)
	v2 := harness.ConfigMap(src, "frozen", map[string]string{"version": "2"})
	v2.Immutable = ptr.To(true)
	kit.Create(t, v2)
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "frozen", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "2", cp.Data["version"])
		assert.Equal(c, ptr.To(true), cp.Immutable)
		assert.NotEqual(c, first.UID, cp.UID, "replaced, not updated")
	})

	// A source that is no longer immutable gives a mutable copy again.
	deleteAndWait(t, v2)
	kit.Create(t, harness.ConfigMap(src, "frozen", map[string]string{"version": "3"}))
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "frozen", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "3", cp.Data["version"])
		assert.Nil(c, cp.Immutable)
	})
	kit.Ready(t, cms)
}

func TestTrackingMetadataOfOtherToolsIsNotCopied(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	cm := harness.ConfigMap(src, "tracked", map[string]string{"k": "v"})
	cm.Labels = map[string]string{
		"app.kubernetes.io/instance":   "argo-app",
		"app.kubernetes.io/managed-by": "Helm",
		"team":                         "payments",
	}
	cm.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": "{}",
		"argocd.argoproj.io/tracking-id":                   "app:/ConfigMap:ns/tracked",
		"meta.helm.sh/release-name":                        "release",
		"owner-contact":                                    "payments@example.com",
	}
	kit.Create(t, cm)
	kit.Create(t, v1Sync(src, "tracked", "tracked", dst))

	harness.Eventually(t, k8s, harness.ConfigMap(dst, "tracked", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "payments", cp.Labels["team"])
		assert.Equal(c, "payments@example.com", cp.Annotations["owner-contact"])
		assert.Equal(c, syncv1.ManagedByValue, cp.Labels["app.kubernetes.io/managed-by"])
		for _, k := range []string{"app.kubernetes.io/instance"} {
			assert.NotContains(c, cp.Labels, k)
		}
		for _, k := range []string{"kubectl.kubernetes.io/last-applied-configuration", "argocd.argoproj.io/tracking-id", "meta.helm.sh/release-name"} {
			assert.NotContains(c, cp.Annotations, k)
		}
	})
	require.NoError(t, k8s.Get(context.Background(), clientKey(cm), cm))
}
