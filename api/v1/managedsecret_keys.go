package v1

import (
	"cmp"
	"fmt"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KeyTypes lists the values of ManagedSecretKey.Type.
var KeyTypes = []KeyType{KeyTypeRandom, KeyTypeBytes, KeyTypeUUID, KeyTypeLiteral}

// ApplyType keeps only the member k.Type names: it clears the other generators and creates the named one, empty
// (the schema's defaults, or the generator's, fill it), when it is missing. It never drops a literal, the one member
// holding a value someone typed: a literal under a generator's type is an error, and so is type Literal without a
// literal. Without a type it changes nothing, and the schema asks for exactly one member.
func (k *ManagedSecretKey) ApplyType(path *field.Path) *field.Error {
	switch k.Type {
	case "":
		return nil
	case KeyTypeLiteral:
		if k.Literal == nil {
			return field.Required(path.Child("literal"), "type is Literal")
		}
		k.Random, k.Bytes, k.UUID = nil, nil, nil
		return nil
	case KeyTypeRandom, KeyTypeBytes, KeyTypeUUID:
	default:
		return field.NotSupported(path.Child("type"), k.Type, KeyTypes)
	}
	if k.Literal != nil {
		// Forbidden, not Invalid: Invalid would quote the literal in the error.
		return field.Forbidden(path.Child("literal"), fmt.Sprintf("type is %s: remove literal, or set type to Literal", k.Type))
	}
	random, bytes, uuid := k.Random, k.Bytes, k.UUID
	k.Random, k.Bytes, k.UUID = nil, nil, nil
	switch k.Type {
	case KeyTypeRandom:
		k.Random = cmp.Or(random, &RandomStringGenerator{})
	case KeyTypeBytes:
		k.Bytes = cmp.Or(bytes, &RandomBytesGenerator{})
	case KeyTypeUUID:
		k.UUID = cmp.Or(uuid, &UUIDGenerator{})
	}
	return nil
}
