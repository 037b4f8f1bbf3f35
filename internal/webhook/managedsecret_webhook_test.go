package webhook

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// consoleKey is a key as the OpenShift console's form sends it: every generator's defaults, and a type.
func consoleKey(name string, t syncv1.KeyType) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{
		Name:   name,
		Type:   t,
		Random: &syncv1.RandomStringGenerator{Length: 32, Alphabet: syncv1.AlphabetAlphanumeric},
		Bytes:  &syncv1.RandomBytesGenerator{Length: 32, Encoding: syncv1.BytesEncodingBase64},
	}
}

func TestManagedSecretDefaultKeepsOnlyTheTypedMemberOfEachKey(t *testing.T) {
	user := "app"
	literal := consoleKey("username", syncv1.KeyTypeLiteral)
	literal.Literal = &user
	untyped := syncv1.ManagedSecretKey{Name: "token", Bytes: &syncv1.RandomBytesGenerator{Length: 16}}
	ms := &syncv1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"},
		Spec: syncv1.ManagedSecretSpec{Keys: []syncv1.ManagedSecretKey{
			literal, consoleKey("password", syncv1.KeyTypeRandom), consoleKey("id", syncv1.KeyTypeUUID), untyped,
		}},
	}
	require.NoError(t, ManagedSecretDefaulter{}.Default(context.Background(), ms))
	keys := ms.Spec.Keys
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "username", Type: syncv1.KeyTypeLiteral, Literal: &user}, keys[0])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "password", Type: syncv1.KeyTypeRandom,
		Random: &syncv1.RandomStringGenerator{Length: 32, Alphabet: syncv1.AlphabetAlphanumeric}}, keys[1])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "id", Type: syncv1.KeyTypeUUID, UUID: &syncv1.UUIDGenerator{}}, keys[2])
	assert.Equal(t, untyped, keys[3], "a key without a type is left to the schema")
}

func TestManagedSecretDefaultRefusesEveryKeyThatWouldLoseItsLiteral(t *testing.T) {
	value := "typed-by-hand"
	first, third := consoleKey("a", syncv1.KeyTypeRandom), consoleKey("c", syncv1.KeyTypeBytes)
	first.Literal, third.Literal = &value, &value
	ms := &syncv1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"},
		Spec:       syncv1.ManagedSecretSpec{Keys: []syncv1.ManagedSecretKey{first, consoleKey("b", syncv1.KeyTypeRandom), third}},
	}
	err := ManagedSecretDefaulter{}.Default(context.Background(), ms)
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "%v", err)
	assert.Contains(t, err.Error(), "spec.keys[0].literal")
	assert.Contains(t, err.Error(), "spec.keys[2].literal")
	assert.NotContains(t, err.Error(), "spec.keys[1]")
	assert.NotContains(t, err.Error(), value)
}
