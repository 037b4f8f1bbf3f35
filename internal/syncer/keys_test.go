package syncer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

func TestSelectKeys_WithoutSelectorsKeepsEverything(t *testing.T) {
	c := mustContent(t, cm(map[string]string{"a": "1"}, nil))
	got, report := SelectKeys(c, nil)
	assert.Equal(t, c, got)
	assert.True(t, report.Empty())
}

func TestSelectKeys_CopiesOnlyTheSelectedKeysUnderTheirNames(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"ca.crt": []byte("ca"), "tls.crt": []byte("crt"), "tls.key": []byte("key")})
	got, report := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "ca.crt", As: "root.pem"}, {Key: "*.crt"}})
	assert.True(t, report.Empty(), "%+v", report)
	assert.Equal(t, map[string][]byte{"root.pem": []byte("ca"), "ca.crt": []byte("ca"), "tls.crt": []byte("crt")}, got.Data,
		"no tls.key; ca.crt both renamed and by the glob")
	assert.Equal(t, corev1.SecretTypeOpaque, got.Type, "without tls.key, no TLS Secret")

	want := mustContent(t, secret(corev1.SecretTypeOpaque, got.Data))
	assert.Equal(t, want.Hash(), got.Hash(), "the hash is the hash of what the copies hold")
}

func TestSelectKeys_KeepsTextAndBinaryApartAndTheImmutableFlag(t *testing.T) {
	src := cm(map[string]string{"settings.yaml": "a: 1", "other": "x"}, map[string][]byte{"logo.png": {0x89, 0}})
	src.Immutable = ptr(true)
	got, _ := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "settings.yaml", As: "app.yaml"}, {Key: "logo.png"}})
	obj := got.newObject().(*corev1.ConfigMap)
	assert.Equal(t, map[string]string{"app.yaml": "a: 1"}, obj.Data)
	assert.Equal(t, map[string][]byte{"logo.png": {0x89, 0}}, obj.BinaryData)
	assert.Equal(t, ptr(true), obj.Immutable)
	assert.Equal(t, HashOf(obj), got.Hash(), "HashOf a copy agrees with the selection's hash")
}

func TestSelectKeys_ReportsSelectorsThatMatchNothingAndGlobsThatMeetATakenName(t *testing.T) {
	src := cm(map[string]string{"a": "1", "b": "2", "x.b": "3"}, nil)
	got, report := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "a", As: "b"}, {Key: "missing"}, {Key: "*b"}, {Key: "nope-*"}})
	assert.Equal(t, []int{1, 3}, report.Unmatched)
	assert.Equal(t, []string{`spec.source.keys[2] leaves out key "b": "a" is already copied under that name`}, report.Collisions)
	assert.Equal(t, map[string][]byte{"b": []byte("1"), "x.b": []byte("3")}, got.Data)
}

func TestSelectKeys_DoesNotChangeTheSourceContent(t *testing.T) {
	c := mustContent(t, cm(map[string]string{"a": "1", "b": "2"}, nil))
	hash := c.Hash()
	SelectKeys(c, []syncv1.KeySelector{{Key: "a", As: "z"}})
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, c.Data)
	assert.Equal(t, hash, c.Hash())
}

func TestSelectKeys_ASecretMissingAKeyItsTypeRequiresBecomesOpaque(t *testing.T) {
	src := secret(corev1.SecretTypeTLS, map[string][]byte{"ca.crt": []byte("ca"), "tls.crt": []byte("crt"), "tls.key": []byte("key")})
	caOnly, _ := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "ca.crt"}})
	assert.Equal(t, corev1.SecretTypeOpaque, caOnly.Type)
	tls, _ := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "tls.*"}})
	assert.Equal(t, corev1.SecretTypeTLS, tls.Type)
	renamed, _ := SelectKeys(mustContent(t, src), []syncv1.KeySelector{{Key: "tls.crt"}, {Key: "tls.key", As: "private.pem"}})
	assert.Equal(t, corev1.SecretTypeOpaque, renamed.Type)
}
