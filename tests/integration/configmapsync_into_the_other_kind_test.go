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
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestAConfigMapIsCopiedIntoSecrets(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	ca := harness.ConfigMap(src, "ca-bundle", map[string]string{"ca.crt": "-----BEGIN CERTIFICATE-----"})
	ca.BinaryData = map[string][]byte{"ca.der": {0x30, 0x82, 0x01}}
	kit.Create(t, ca)
	// Into dst, and beside the source under the same name: a Secret of that name is not the ConfigMap.
	cms := v1Sync(src, "ca-as-secret", "ca-bundle", dst, src)
	cms.Spec.Destination.Kind = syncv1.SourceKindSecret
	kit.Create(t, cms)

	for _, ns := range []string{dst, src} {
		harness.Eventually(t, k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca-bundle"}},
			func(c *assert.CollectT, s *corev1.Secret) {
				assert.Equal(c, corev1.SecretTypeOpaque, s.Type)
				assert.Equal(c, map[string][]byte{"ca.crt": []byte("-----BEGIN CERTIFICATE-----"), "ca.der": {0x30, 0x82, 0x01}}, s.Data)
				assert.Equal(c, syncv1.ManagedByValue, s.Labels[syncv1.ManagedByLabel])
			})
	}
	kit.Ready(t, cms)
	assert.True(t, kit.Absent(t, harness.ConfigMap(dst, "ca-bundle", nil)), "no ConfigMap is written")
	source := &corev1.ConfigMap{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(ca), source))
	assert.Equal(t, ca.Data, source.Data, "the source beside its Secret copy is untouched")

	update(t, ca, func() { ca.Data["ca.crt"] = "-----ROTATED-----" })
	harness.Eventually(t, k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dst, Name: "ca-bundle"}},
		func(c *assert.CollectT, s *corev1.Secret) {
			assert.Equal(c, []byte("-----ROTATED-----"), s.Data["ca.crt"])
		})

	deleteAndWait(t, cms)
	for _, ns := range []string{dst, src} {
		assert.True(t, kit.Absent(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca-bundle"}}), ns)
	}
	require.NoError(t, k8s.Get(context.Background(), clientKey(ca), source), "the source stays")
}

func TestASecretIsNeverCopiedIntoConfigMapsAndTheCopiesKindIsFixed(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	kit.Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "db"}, Data: map[string][]byte{"p": []byte("x")}})
	reverse := v1Sync(src, "reverse", "db", dst)
	reverse.Spec.Source.Kind, reverse.Spec.Destination.Kind = syncv1.SourceKindSecret, syncv1.SourceKindConfigMap
	err := k8s.Create(context.Background(), reverse)
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "%v", err)
	assert.Contains(t, err.Error(), "spec.destination.kind: Forbidden: a Secret is never copied into ConfigMaps")
	assert.True(t, kit.Absent(t, v1Sync(src, "reverse", "db")))

	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	plain := v1Sync(src, "plain", "settings", dst)
	kit.Create(t, plain)
	kit.Ready(t, plain)
	err = tryUpdate(plain, func() { plain.Spec.Destination.Kind = syncv1.SourceKindSecret })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.destination.kind: Forbidden: is immutable")

	secrets := v1Sync(src, "secrets", "settings", dst)
	secrets.Spec.Destination.Name = "settings-secret"
	secrets.Spec.Destination.Kind = syncv1.SourceKindSecret
	kit.Create(t, secrets)
	err = tryUpdate(secrets, func() { secrets.Spec.Destination.Kind = syncv1.SourceKindConfigMap })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "destination.kind is immutable")
}

func TestSecretCopiesNeedTheRightToWriteSecrets(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	user := fmt.Sprintf("carol-%d", harness.Unique())
	carol := env.AsUser(t, user)
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	env.Grant(t, user, src, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch")
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	env.Grant(t, user, dst, "", []string{"configmaps"}, "create", "update", "delete")

	cms := v1Sync(src, "as-secret", "settings", dst)
	cms.Spec.Destination.Kind = syncv1.SourceKindSecret
	err := carol.Create(context.Background(), cms)
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("create secrets in namespace %q", dst))
	assert.NotContains(t, err.Error(), "get secrets", "the source is read as the ConfigMap it is")

	env.Grant(t, user, dst, "", []string{"secrets"}, "create", "update", "delete")
	allowed := v1Sync(src, "as-secret", "settings", dst)
	allowed.Spec.Destination.Kind = syncv1.SourceKindSecret
	require.NoError(t, carol.Create(context.Background(), allowed))
	harness.Eventually(t, k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dst, Name: "settings"}},
		func(c *assert.CollectT, s *corev1.Secret) { assert.Equal(c, []byte("v"), s.Data["k"]) })
}
