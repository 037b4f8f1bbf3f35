package syncer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Content is what a sync copies from a source: the data a consumer reads, and for a Secret its type. It is the
// same for ConfigMaps and Secrets, so that one code path serves both kinds.
type Content struct {
	// Kind is ConfigMap or Secret.
	Kind string
	// Type is a Secret's type; empty for ConfigMaps.
	Type corev1.SecretType
	// Data holds every value; BinaryKeys names the keys that came from a ConfigMap's binaryData.
	Data       map[string][]byte
	BinaryKeys map[string]bool
}

// Kinds of objects the operator copies.
const (
	KindConfigMap = "ConfigMap"
	KindSecret    = "Secret"
)

// ContentOf returns the content of a ConfigMap or a Secret.
func ContentOf(obj client.Object) (Content, error) {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		c := Content{Kind: KindConfigMap, Data: make(map[string][]byte, len(o.Data)+len(o.BinaryData))}
		for k, v := range o.Data {
			c.Data[k] = []byte(v)
		}
		for k, v := range o.BinaryData {
			if c.BinaryKeys == nil {
				c.BinaryKeys = map[string]bool{}
			}
			c.BinaryKeys[k] = true
			c.Data[k] = v
		}
		return c, nil
	case *corev1.Secret:
		c := Content{Kind: KindSecret, Type: o.Type, Data: make(map[string][]byte, len(o.Data)+len(o.StringData))}
		for k, v := range o.Data {
			c.Data[k] = v
		}
		// stringData is write-only and merged into data by the API server; a source read back never has it,
		// but an object built in memory might.
		for k, v := range o.StringData {
			c.Data[k] = []byte(v)
		}
		if c.Type == "" {
			c.Type = corev1.SecretTypeOpaque
		}
		if c.Type == corev1.SecretTypeServiceAccountToken {
			// A copy would hand the ServiceAccount's permissions to everyone who can read Secrets in the
			// destinations, and the token controller deletes token Secrets whose ServiceAccount is not in their
			// namespace: the operator would recreate them forever.
			return Content{}, fmt.Errorf("secret %s/%s is of type %s, which is never copied: a copy would grant the "+
				"ServiceAccount's permissions in every destination", o.Namespace, o.Name, corev1.SecretTypeServiceAccountToken)
		}
		return c, nil
	default:
		return Content{}, fmt.Errorf("cannot copy objects of type %T", obj)
	}
}

// Hash returns a stable hash of the content. Two objects with the same hash hold the same data, so a copy whose
// annotation matches the source's hash needs no write, whatever else changed on either object. It is a plain
// SHA-256 of data the copy's readers can read anyway; it says nothing to someone who cannot read the copy.
func (c Content) Hash() string {
	h := sha256.New()
	writeField(h, []byte(c.Kind))
	writeField(h, []byte(c.Type))
	for _, k := range slices.Sorted(maps.Keys(c.Data)) {
		kind := []byte{'s'}
		if c.BinaryKeys[k] {
			kind[0] = 'b'
		}
		writeField(h, kind)
		writeField(h, []byte(k))
		writeField(h, c.Data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField length-prefixes every field so that no two different contents serialise to the same bytes.
func writeField(h hash.Hash, b []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// newObject returns an empty object of the content's kind with the content written into it.
func (c Content) newObject() client.Object {
	if c.Kind == KindSecret {
		s := &corev1.Secret{Type: c.Type}
		if len(c.Data) > 0 {
			s.Data = maps.Clone(c.Data)
		}
		return s
	}
	cm := &corev1.ConfigMap{}
	for k, v := range c.Data {
		if c.BinaryKeys[k] {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[k] = v
			continue
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[k] = string(v)
	}
	return cm
}

// NewObject returns an empty ConfigMap or Secret.
func NewObject(kind string) client.Object {
	if kind == KindSecret {
		return &corev1.Secret{}
	}
	return &corev1.ConfigMap{}
}

// NewList returns an empty ConfigMapList or SecretList.
func NewList(kind string) client.ObjectList {
	if kind == KindSecret {
		return &corev1.SecretList{}
	}
	return &corev1.ConfigMapList{}
}

// isImmutable reports whether the API server refuses updates to obj's content.
func isImmutable(obj client.Object) bool {
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		return o.Immutable != nil && *o.Immutable
	case *corev1.Secret:
		return o.Immutable != nil && *o.Immutable
	}
	return false
}
