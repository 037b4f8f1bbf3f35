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
}

func TestAnImmutableSourceIsReplacedNotUpdated(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	v1 := harness.ConfigMap(src, "frozen", map[string]string{"version": "1"})
	v1.Immutable = ptr.To(true)
	kit.Create(t, v1)
	cms := v1Sync(src, "frozen", "frozen", dst)
	kit.Create(t, cms)
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "frozen", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "1", cp.Data["version"])
	})

	// Immutable objects are rolled by replacing them.
	deleteAndWait(t, v1)
	v2 := harness.ConfigMap(src, "frozen", map[string]string{"version": "2"})
	v2.Immutable = ptr.To(true)
	kit.Create(t, v2)
	harness.Eventually(t, k8s, harness.ConfigMap(dst, "frozen", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "2", cp.Data["version"])
	})
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
