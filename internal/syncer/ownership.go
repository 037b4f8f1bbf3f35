package syncer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// proofDomain separates the operator's ownership proofs from any other use of the key.
const proofDomain = "configmapsync-operator/ownership/v1"

// Key is one secret key of the ownership proof, and its ID: the first bytes of the key's own hash, so that a proof
// names the key it was made with and a rotation can accept two keys at once.
type Key struct {
	ID     string
	Secret []byte
}

// NewKey returns the Key for secret.
func NewKey(secret []byte) Key {
	sum := sha256.Sum256(secret)
	return Key{ID: hex.EncodeToString(sum[:4]), Secret: secret}
}

// Keys proves and checks the ownership of the objects the operator writes. Current signs; Previous, when set, is
// still accepted, so that copies signed before a rotation stay the operator's until they are signed again.
type Keys struct {
	Current  Key
	Previous *Key
}

// Proof returns the proof that the object of kind called namespace/name belongs to the owner with UID owner.
func (k Keys) Proof(owner types.UID, kind, namespace, name string) string {
	return k.Current.ID + ":" + mac(k.Current, owner, kind, namespace, name)
}

// Verdict is what an object's proof says.
type Verdict int8

const (
	// Unproven means the proof is missing or wrong: the object is not the operator's, whatever its labels say.
	Unproven Verdict = iota
	// Proven means the proof was made with the current key.
	Proven
	// ProvenByPrevious means the proof was made with the previous key: the object is the operator's, and its next
	// write signs it with the current key.
	ProvenByPrevious
)

// Verify checks the proof on obj (of kind) for the owner its owner-uid label names.
func (k Keys) Verify(obj client.Object, kind string) Verdict {
	owner := types.UID(obj.GetLabels()[syncv1.OwnerUIDLabel])
	id, sum, ok := strings.Cut(obj.GetAnnotations()[syncv1.OwnershipProofAnnotation], ":")
	if !ok || owner == "" {
		return Unproven
	}
	check := func(key Key) bool {
		return key.ID == id && len(key.Secret) > 0 &&
			hmac.Equal([]byte(sum), []byte(mac(key, owner, kind, obj.GetNamespace(), obj.GetName())))
	}
	switch {
	case check(k.Current):
		return Proven
	case k.Previous != nil && check(*k.Previous):
		return ProvenByPrevious
	}
	return Unproven
}

// mac is the hex HMAC-SHA256 under key of the facts that identify an owned object, each followed by a NUL byte,
// which none of them can contain: no two lists of facts give the same message.
func mac(key Key, owner types.UID, kind, namespace, name string) string {
	h := hmac.New(sha256.New, key.Secret)
	for _, field := range []string{proofDomain, string(owner), kind, namespace, name} {
		h.Write([]byte(field))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
