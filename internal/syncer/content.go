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
	// Immutable copies the source's immutable flag: an immutable source gives immutable copies, which kubelets
	// stop watching and nobody can edit in a destination.
	Immutable bool

	// text holds a ConfigMap's data as the source's own strings, which every copy shares: converting a 1 MiB
	// value once per destination would allocate that much again for each namespace.
	text map[string]string
	// hash is the content's hash, computed once by ContentOf: a sync with many destinations asks for it often.
	hash string
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
		c := Content{Kind: KindConfigMap, Data: make(map[string][]byte, len(o.Data)+len(o.BinaryData)), text: maps.Clone(o.Data)}
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
		c.Immutable = isImmutable(o)
		c.hash = HashOf(o)
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
		c.Immutable = isImmutable(o)
		if c.Type == corev1.SecretTypeServiceAccountToken {
			// A copy would hand the ServiceAccount's permissions to everyone who can read Secrets in the
			// destinations, and the token controller deletes token Secrets whose ServiceAccount is not in their
			// namespace: the operator would recreate them forever.
			return Content{}, fmt.Errorf("secret %s/%s is of type %s, which is never copied: a copy would grant the "+
				"ServiceAccount's permissions in every destination", o.Namespace, o.Name, corev1.SecretTypeServiceAccountToken)
		}
		c.hash = c.Hash()
		return c, nil
	default:
		return Content{}, fmt.Errorf("cannot copy objects of type %T", obj)
	}
}

// As returns the content as copies of kind hold it. A ConfigMap's content in a Secret is an Opaque Secret with
// every key, text and binary alike, as Secret data. The other way, a Secret's content in a ConfigMap, is refused
// by the API's validation and never asked for; As leaves such a content, and one already of kind, as it is.
func (c Content) As(kind string) Content {
	if kind == c.Kind || kind != KindSecret {
		return c
	}
	return Content{Kind: KindSecret, Type: corev1.SecretTypeOpaque, Data: c.Data, Immutable: c.Immutable}
}

// Hash returns a stable hash of the content. Two objects with the same hash hold the same data, so a copy whose
// annotation matches the source's hash needs no write, whatever else changed on either object. It is a plain
// SHA-256 of data the copy's readers can read anyway; it says nothing to someone who cannot read the copy.
func (c Content) Hash() string {
	if c.hash != "" {
		return c.hash
	}
	h := newContentHasher(c.Kind, c.Type)
	for _, k := range slices.Sorted(maps.Keys(c.Data)) {
		tag := textTag
		if c.BinaryKeys[k] {
			tag = binaryTag
		}
		writeEntry(h, tag, k, c.Data[k])
	}
	return h.sum()
}

// Size is the number of bytes of the content's values.
func (c Content) Size() int {
	n := 0
	for _, v := range c.Data {
		n += len(v)
	}
	return n
}

// HashOf returns the hash of obj's content, the same as ContentOf(obj).Hash(), without copying a ConfigMap's
// values: the operator's copy store hashes every copy it is sent (see ViewOf), and a copy may hold a MiB.
func HashOf(obj client.Object) string {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		content, err := ContentOf(obj)
		if err != nil {
			return "" // Matches no desired hash: such an object is never taken for an up-to-date copy.
		}
		return content.Hash()
	}
	h := newContentHasher(KindConfigMap, "")
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range cm.Data {
			if !yield(k) {
				return
			}
		}
		for k := range cm.BinaryData {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		// The API server refuses a key in both maps; should one still be in both, binaryData wins, as in ContentOf.
		if v, ok := cm.BinaryData[k]; ok {
			writeEntry(h, binaryTag, k, v)
		} else {
			writeEntry(h, textTag, k, cm.Data[k])
		}
	}
	return h.sum()
}

// Tags of an entry in the hashed form: text (a ConfigMap's data, every Secret key) or binary (binaryData).
const (
	textTag   byte = 's'
	binaryTag byte = 'b'
)

// contentHasher writes the hashed form of a content: length-prefixed fields, so that no two different contents
// serialise to the same bytes.
type contentHasher struct {
	h   hash.Hash
	buf [4096]byte
}

func newContentHasher(kind string, typ corev1.SecretType) *contentHasher {
	h := &contentHasher{h: sha256.New()}
	writeField(h, kind)
	writeField(h, string(typ))
	return h
}

func (h *contentHasher) sum() string { return hex.EncodeToString(h.h.Sum(nil)) }

// writeEntry writes one key and its value with the tag of its kind.
func writeEntry[V ~string | ~[]byte](h *contentHasher, tag byte, key string, value V) {
	writeField(h, []byte{tag})
	writeField(h, key)
	writeField(h, value)
}

// writeField writes the length of b and then b, a string through a small buffer rather than a converted copy.
func writeField[V ~string | ~[]byte](h *contentHasher, b V) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(b)))
	h.h.Write(n[:])
	for len(b) > 0 {
		n := copy(h.buf[:], b)
		h.h.Write(h.buf[:n])
		b = b[n:]
	}
}

// newObject returns an empty object of the content's kind with the content written into it.
func (c Content) newObject() client.Object {
	var immutable *bool
	if c.Immutable {
		immutable = &c.Immutable
	}
	if c.Kind == KindSecret {
		s := &corev1.Secret{Type: c.Type, Immutable: immutable}
		if len(c.Data) > 0 {
			s.Data = maps.Clone(c.Data)
		}
		return s
	}
	cm := &corev1.ConfigMap{Immutable: immutable}
	for k, v := range c.Data {
		if text, ok := c.text[k]; ok && !c.BinaryKeys[k] {
			if cm.Data == nil {
				cm.Data = make(map[string]string, len(c.text))
			}
			cm.Data[k] = text
			continue
		}
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
	case *View:
		return o.Immutable
	}
	return false
}
