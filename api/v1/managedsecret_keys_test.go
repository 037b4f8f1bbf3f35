package v1

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// formKey is a key as the OpenShift console's form writes it: the defaults of every generator, and the type the
// user picked.
func formKey(t KeyType) ManagedSecretKey {
	return ManagedSecretKey{
		Name:   "k",
		Type:   t,
		Random: &RandomStringGenerator{Length: 32, Alphabet: AlphabetAlphanumeric},
		Bytes:  &RandomBytesGenerator{Length: 32, Encoding: BytesEncodingBase64},
	}
}

func TestApplyType_KeepsOnlyTheMemberTheTypeNames(t *testing.T) {
	literal := "app"
	for name, tc := range map[string]struct {
		key  ManagedSecretKey
		want ManagedSecretKey
	}{
		"Random keeps its settings": {formKey(KeyTypeRandom),
			ManagedSecretKey{Name: "k", Type: KeyTypeRandom, Random: &RandomStringGenerator{Length: 32, Alphabet: AlphabetAlphanumeric}}},
		"Bytes keeps its settings": {formKey(KeyTypeBytes),
			ManagedSecretKey{Name: "k", Type: KeyTypeBytes, Bytes: &RandomBytesGenerator{Length: 32, Encoding: BytesEncodingBase64}}},
		"UUID is created": {formKey(KeyTypeUUID),
			ManagedSecretKey{Name: "k", Type: KeyTypeUUID, UUID: &UUIDGenerator{}}},
		"Literal keeps the literal": {func() ManagedSecretKey { k := formKey(KeyTypeLiteral); k.Literal = &literal; return k }(),
			ManagedSecretKey{Name: "k", Type: KeyTypeLiteral, Literal: &literal}},
		"a missing generator is created empty, for its defaults": {ManagedSecretKey{Name: "k", Type: KeyTypeRandom},
			ManagedSecretKey{Name: "k", Type: KeyTypeRandom, Random: &RandomStringGenerator{}}},
		"no type changes nothing": {formKey(""), formKey("")},
	} {
		t.Run(name, func(t *testing.T) {
			k := tc.key
			require.Nil(t, k.ApplyType(field.NewPath("spec", "keys").Index(0)))
			assert.Equal(t, tc.want, k)
		})
	}
}

func TestApplyType_NeverDropsALiteral(t *testing.T) {
	secret := "typed-by-hand"
	k := formKey(KeyTypeRandom)
	k.Literal = &secret
	before := k
	err := k.ApplyType(field.NewPath("spec", "keys").Index(2))
	require.NotNil(t, err)
	assert.Equal(t, "spec.keys[2].literal", err.Field)
	assert.Equal(t, field.ErrorTypeForbidden, err.Type)
	assert.Contains(t, err.Error(), "type is Random")
	assert.NotContains(t, err.Error(), secret, "the error quotes no value")
	assert.Equal(t, before, k, "nothing is changed on error")
}

func TestApplyType_RefusesLiteralWithoutAValueAndUnknownTypes(t *testing.T) {
	path := field.NewPath("spec", "keys").Index(0)
	k := formKey(KeyTypeLiteral)
	err := k.ApplyType(path)
	require.NotNil(t, err)
	assert.Equal(t, "spec.keys[0].literal", err.Field)
	assert.Equal(t, field.ErrorTypeRequired, err.Type)

	k = formKey("Password")
	err = k.ApplyType(path)
	require.NotNil(t, err)
	assert.Equal(t, "spec.keys[0].type", err.Field)
	assert.Equal(t, field.ErrorTypeNotSupported, err.Type)
}
