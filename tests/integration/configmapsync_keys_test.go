package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestOnlyTheSelectedKeysOfASecretAreCopied(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	// What cert-manager writes for a CA: hand out the certificate, never the key.
	kit.Create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "root-ca"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"ca.crt": []byte("CA"), "tls.crt": []byte("CRT"), "tls.key": []byte("KEY")},
	})
	cms := v1Sync(src, "ca-only", "root-ca", dst)
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	cms.Spec.Destination.Name = "root-ca-public"
	cms.Spec.Source.Keys = []syncv1.KeySelector{{Key: "ca.crt"}, {Key: "tls.crt", As: "root.pem"}}
	kit.Create(t, cms)
	kit.Ready(t, cms)
	copied := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dst, Name: "root-ca-public"}}
	require.NoError(t, k8s.Get(context.Background(), clientKey(copied), copied))
	assert.Equal(t, map[string][]byte{"ca.crt": []byte("CA"), "root.pem": []byte("CRT")}, copied.Data)
	assert.Equal(t, corev1.SecretTypeOpaque, copied.Type, "a TLS Secret without tls.key would be refused")
	assert.True(t, meta.IsStatusConditionTrue(cms.Status.Conditions, syncv1.KeysMatchedCondition))

	// A change to a key that is not copied writes nothing.
	rv := copied.ResourceVersion
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "root-ca"}}
	update(t, secret, func() { secret.Data["tls.key"] = []byte("NEW KEY") })
	update(t, secret, func() { secret.Data["ca.crt"] = []byte("CA2") })
	harness.Eventually(t, k8s, copied, func(c *assert.CollectT, cp *corev1.Secret) {
		assert.Equal(c, "CA2", string(cp.Data["ca.crt"]))
	})
	assert.NotEqual(t, rv, copied.ResourceVersion)
}

func TestSelectedKeysOfAConfigMapAndAGlobThatMatchesNothing(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"app.yaml": "a: 1", "db.yaml": "b: 2", "notes": "x"})
	source.BinaryData = map[string][]byte{"logo.png": {0x89, 0}}
	kit.Create(t, source)
	cms := v1Sync(src, "some-keys", "settings", dst)
	cms.Spec.Source.Keys = []syncv1.KeySelector{{Key: "*.yaml"}, {Key: "logo.png"}, {Key: "*.toml"}}
	kit.Create(t, cms)
	kit.Ready(t, cms)
	cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.KeysMatchedCondition)
	require.NotNil(t, cond)
	assert.Equal(t, metav1.ConditionFalse, cond.Status)
	assert.Equal(t, syncv1.ReasonKeysNotFound, cond.Reason)
	assert.Contains(t, cond.Message, "spec.source.keys[2] (*.toml) matches no key of the source")
	assert.True(t, hasEvent(t, cms, syncv1.ReasonKeysNotFound))
	copied := harness.ConfigMap(dst, "settings", nil)
	require.NoError(t, k8s.Get(context.Background(), clientKey(copied), copied))
	assert.Equal(t, map[string]string{"app.yaml": "a: 1", "db.yaml": "b: 2"}, copied.Data)
	assert.Equal(t, source.BinaryData, copied.BinaryData)

	// The source gains a matching key: it is copied and the condition recovers, with no error loop in between.
	update(t, source, func() { source.Data["extra.toml"] = "c = 3" })
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.True(c, meta.IsStatusConditionTrue(cms.Status.Conditions, syncv1.KeysMatchedCondition))
	})
	require.NoError(t, k8s.Get(context.Background(), clientKey(copied), copied))
	assert.Equal(t, "c = 3", copied.Data["extra.toml"])
}

func TestInvalidKeySelectionsAreRefusedNamingTheFieldAndNothingIsStored(t *testing.T) {
	ns := kit.NewNamespace(t, "keys")
	for name, tc := range map[string]struct {
		keys          []syncv1.KeySelector
		field, reason string
	}{
		"two entries copied under one name": {[]syncv1.KeySelector{{Key: "a", As: "x"}, {Key: "x"}},
			"spec.source.keys[1]", "each key must be copied under a name of its own"},
		"a glob renamed": {[]syncv1.KeySelector{{Key: "*.crt", As: "ca.crt"}},
			"spec.source.keys[0]", "as renames a single key"},
		"an invalid key name": {[]syncv1.KeySelector{{Key: "a", As: "a/b"}},
			"spec.source.keys[0].as", "should match"},
		"dot dot": {[]syncv1.KeySelector{{Key: "a", As: ".."}},
			"spec.source.keys[0].as", "'.' and '..' are not valid key names"},
	} {
		t.Run(name, func(t *testing.T) {
			cms := v1Sync(ns, "bad-keys", "settings", "team-b")
			cms.Spec.Source.Keys = tc.keys
			err := k8s.Create(context.Background(), cms)
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "got %v", err)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), tc.reason)
			assert.True(t, kit.Absent(t, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-keys"}}))
		})
	}
}
