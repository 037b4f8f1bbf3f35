package syncer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Content is what a sync copies from a source: everything a consumer of the object can read, and nothing that
// describes the source object itself.
type Content struct {
	// Data holds string and binary values alike; BinaryKeys names the keys that came from a ConfigMap's binaryData.
	Data       map[string][]byte
	BinaryKeys map[string]bool
}

// ConfigMapContent returns the content of a ConfigMap.
func ConfigMapContent(cm *corev1.ConfigMap) Content {
	c := Content{Data: make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))}
	for k, v := range cm.Data {
		c.Data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		if c.BinaryKeys == nil {
			c.BinaryKeys = map[string]bool{}
		}
		c.BinaryKeys[k] = true
		c.Data[k] = v
	}
	return c
}

// Hash returns a stable hash of the content. Two objects with the same hash hold the same data, so a copy whose
// annotation matches the source's hash needs no write, whatever else changed on either object.
func (c Content) Hash() string {
	h := sha256.New()
	var n [8]byte
	writeField := func(b []byte) {
		// Length-prefix every field so that no two different maps serialise to the same bytes.
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Data)) {
		kind := []byte{'s'}
		if c.BinaryKeys[k] {
			kind[0] = 'b'
		}
		writeField(kind)
		writeField([]byte(k))
		writeField(c.Data[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ApplyToConfigMap writes the content into a ConfigMap's data and binaryData, replacing what was there.
func (c Content) ApplyToConfigMap(cm *corev1.ConfigMap) {
	cm.Data, cm.BinaryData = nil, nil
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
}
