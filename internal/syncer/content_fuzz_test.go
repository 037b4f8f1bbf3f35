package syncer

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// entry is one fuzzed key and value; binary puts it in a ConfigMap's binaryData (for a Secret: data rather than
// stringData).
type entry struct {
	key    string
	value  []byte
	binary bool
}

// decodeEntries reads entries from data: a flags byte (bit 0: binary), a key length byte, the key, a value length
// byte, the value; until data runs out. Keys are unique, as the API server keeps them (it also refuses a key in
// both data and binaryData), so a repeated key is dropped.
func decodeEntries(data []byte) []entry {
	var out []entry
	seen := map[string]bool{}
	next := func(n int) ([]byte, bool) {
		if n > len(data) {
			return nil, false
		}
		b := data[:n]
		data = data[n:]
		return b, true
	}
	for len(data) >= 3 {
		flags, _ := next(1)
		kl, _ := next(1)
		key, ok := next(int(kl[0]))
		if !ok {
			break
		}
		vl, ok := next(1)
		if !ok {
			break
		}
		value, ok := next(int(vl[0]))
		if !ok {
			break
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		out = append(out, entry{key: string(key), value: bytes.Clone(value), binary: flags[0]&1 == 1})
	}
	return out
}

// encodeEntries is decodeEntries' inverse, for seeds.
func encodeEntries(entries ...entry) []byte {
	var b []byte
	for _, e := range entries {
		flags := byte(0)
		if e.binary {
			flags = 1
		}
		b = append(b, flags, byte(len(e.key)))
		b = append(b, e.key...)
		b = append(b, byte(len(e.value)))
		b = append(b, e.value...)
	}
	return b
}

// sourceOf builds a ConfigMap (or a Secret of type secretType) holding entries, inserting them in the given order.
func sourceOf(secret bool, secretType string, entries []entry) client.Object {
	if secret {
		s := &corev1.Secret{Type: corev1.SecretType(secretType)}
		for _, e := range entries {
			if e.binary {
				if s.Data == nil {
					s.Data = map[string][]byte{}
				}
				s.Data[e.key] = e.value
				continue
			}
			if s.StringData == nil {
				s.StringData = map[string]string{}
			}
			s.StringData[e.key] = string(e.value)
		}
		return s
	}
	cm := &corev1.ConfigMap{}
	for _, e := range entries {
		if e.binary {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[e.key] = e.value
			continue
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[e.key] = string(e.value)
	}
	return cm
}

// entriesHash returns the content hash of the object built from entries.
func entriesHash(t *testing.T, secret bool, secretType string, entries []entry) string {
	t.Helper()
	c, err := ContentOf(sourceOf(secret, secretType, entries))
	if err != nil {
		t.Fatalf("ContentOf: %v", err)
	}
	return c.Hash()
}

// FuzzContentHash checks the content hash that decides whether a copy needs a write: it is a function of the
// content alone (not of map order), every change a consumer could see changes it, and it never carries a value.
func FuzzContentHash(f *testing.F) {
	long := []byte("s3cr3t-value-123")
	for _, seed := range []struct {
		secret bool
		typ    string
		data   []byte
	}{
		{false, "", encodeEntries(entry{key: "k", value: []byte("v")})},
		{false, "", encodeEntries(entry{key: "a", value: long}, entry{key: "b", value: []byte{0, 1, 2}, binary: true})},
		{false, "", encodeEntries(entry{key: "a", value: []byte("bc")}, entry{key: "ab", value: []byte("c")})},
		{false, "", encodeEntries(entry{key: "", value: nil}, entry{key: "x", value: nil, binary: true})},
		{true, "", encodeEntries(entry{key: "password", value: long, binary: true}, entry{key: "user", value: []byte("admin")})},
		{true, "kubernetes.io/tls", encodeEntries(entry{key: "tls.crt", value: long, binary: true}, entry{key: "tls.key", value: long})},
		{true, "Opaque", nil},
		{false, "", nil},
	} {
		f.Add(seed.secret, seed.typ, seed.data)
	}
	f.Fuzz(func(t *testing.T, secret bool, secretType string, data []byte) {
		entries := decodeEntries(data)
		h := entriesHash(t, secret, secretType, entries)
		checkHashIsStable(t, h, secret, secretType, entries)
		checkHashPathsAgree(t, h, secret, secretType, entries)
		checkHashHidesValues(t, h, secret, secretType, entries)
		checkEveryChangeChangesHash(t, h, secret, secretType, entries)
	})
}

// checkHashPathsAgree: the hash of the operator's cache (HashOf, straight from the object) and the hash computed
// from a Content without ContentOf's precomputed value are the same.
func checkHashPathsAgree(t *testing.T, h string, secret bool, secretType string, entries []entry) {
	t.Helper()
	obj := sourceOf(secret, secretType, entries)
	if got := HashOf(obj); got != h {
		t.Fatalf("HashOf = %s, ContentOf(...).Hash() = %s", got, h)
	}
	c, err := ContentOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	if got := (Content{Kind: c.Kind, Type: c.Type, Data: c.Data, BinaryKeys: c.BinaryKeys}).Hash(); got != h {
		t.Fatalf("Content.Hash without the precomputed value = %s, want %s", got, h)
	}
}

// checkHashIsStable: the same content hashes the same, however its maps were filled.
func checkHashIsStable(t *testing.T, h string, secret bool, secretType string, entries []entry) {
	t.Helper()
	if again := entriesHash(t, secret, secretType, entries); again != h {
		t.Fatalf("hash not deterministic: %s then %s", h, again)
	}
	reversed := slices.Clone(entries)
	slices.Reverse(reversed)
	if other := entriesHash(t, secret, secretType, reversed); other != h {
		t.Fatalf("hash depends on insertion order: %s vs %s", h, other)
	}
	if secret {
		// A Secret's stringData is merged into data by the API server: where a value was written is not content.
		moved := slices.Clone(entries)
		for i := range moved {
			moved[i].binary = !moved[i].binary
		}
		if other := entriesHash(t, secret, secretType, moved); other != h {
			t.Fatalf("a Secret's hash depends on data vs stringData: %s vs %s", h, other)
		}
	}
}

// checkHashHidesValues: neither the hash nor anything derived from it for a copy holds a value of 8 bytes or more.
func checkHashHidesValues(t *testing.T, h string, secret bool, secretType string, entries []entry) {
	t.Helper()
	src := sourceOf(secret, secretType, entries)
	content, err := ContentOf(src)
	if err != nil {
		t.Fatalf("ContentOf: %v", err)
	}
	copyObj := Desired(src, content, "dst", "copy", Owner{
		NamespacedName: types.NamespacedName{Namespace: "src", Name: "sync"}, UID: "uid-1",
	}, testKeys)
	derived := make([]string, 0, 2+len(copyObj.GetAnnotations())+len(copyObj.GetLabels()))
	derived = append(derived, h, RolloutToken("uid-1", h))
	derived = append(derived, slices.Collect(maps.Values(copyObj.GetAnnotations()))...)
	derived = append(derived, slices.Collect(maps.Values(copyObj.GetLabels()))...)
	for _, e := range entries {
		if len(e.value) < 8 {
			continue
		}
		for _, s := range derived {
			if bytes.Contains([]byte(s), e.value) {
				// Do not print the value: these are secrets in the product.
				t.Fatalf("a derived string holds the value of key %q", e.key)
			}
		}
	}
}

// checkEveryChangeChangesHash: changing one value or key, moving a ConfigMap key between data and binaryData,
// adding a key (even an empty one), the kind or the Secret type, each gives another hash.
func checkEveryChangeChangesHash(t *testing.T, h string, secret bool, secretType string, entries []entry) {
	t.Helper()
	differs := func(what string, changed []entry, changedSecret bool, changedType string) {
		t.Helper()
		if entriesHash(t, changedSecret, changedType, changed) == h {
			t.Fatalf("%s does not change the hash", what)
		}
	}
	has := func(key string) bool {
		return slices.ContainsFunc(entries, func(e entry) bool { return e.key == key })
	}
	for i, e := range entries {
		changed := slices.Clone(entries)
		changed[i].value = append(bytes.Clone(e.value), 'x')
		differs("appending to the value of "+e.key, changed, secret, secretType)
		if len(e.value) > 0 {
			changed[i].value = bytes.Clone(e.value)
			changed[i].value[0] ^= 0x01
			differs("changing a byte of the value of "+e.key, changed, secret, secretType)
		}
		if renamed := e.key + "x"; !has(renamed) {
			changed = slices.Clone(entries)
			changed[i].key = renamed
			differs("renaming key "+e.key, changed, secret, secretType)
		}
		if !secret {
			changed = slices.Clone(entries)
			changed[i].binary = !e.binary
			differs("moving key "+e.key+" between data and binaryData", changed, secret, secretType)
		}
		differs("removing key "+e.key, slices.Delete(slices.Clone(entries), i, i+1), secret, secretType)
	}
	for _, key := range []string{"", "empty"} {
		if !has(key) {
			differs("adding the empty key "+key, append(slices.Clone(entries), entry{key: key}), secret, secretType)
		}
	}
	differs("changing the kind", entries, !secret, secretType)
	if secret {
		other := "example.com/other"
		if secretType == other {
			other = "example.com/another"
		}
		differs("changing the Secret type", entries, secret, other)
	}
}

// The empty Secret type is read as Opaque, as the API server defaults it; the fuzzer must not count that as a
// change, and this pins it.
func TestEmptySecretTypeHashesAsOpaque(t *testing.T) {
	e := []entry{{key: "k", value: []byte("v")}}
	if entriesHash(t, true, "", e) != entriesHash(t, true, string(corev1.SecretTypeOpaque), e) {
		t.Fatal("an empty Secret type should hash as Opaque")
	}
}
