package syncer

import (
	"encoding/hex"
	"strconv"

	"k8s.io/apimachinery/pkg/types"
)

// Compact forms of the two per-object strings of a View, the UID and the resourceVersion: at 100,000 views a
// string costs its header and an allocation each (some 64 and 24 bytes), the compact forms 16 and 8 bytes inline.
// The API server's UIDs are UUIDs and its resourceVersions decimal numbers (etcd revisions), but neither is
// promised: whatever does not round-trip through its compact form is kept as given, in an odd identity.

// identity is a UID and a resourceVersion, compact when they round-trip.
type identity struct {
	uid [16]byte
	rv  uint64
	// odd holds what has no compact form; nil for the API server's UIDs and resourceVersions.
	odd *oddIdentity
}

type oddIdentity struct {
	uid   types.UID
	rv    string
	isUID bool
	isRV  bool
}

func makeIdentity(uid types.UID, rv string) identity {
	var id identity
	compactUID, uidOK := parseUUID(string(uid))
	compactRV, rvOK := parseRV(rv)
	if uidOK {
		id.uid = compactUID
	}
	if rvOK {
		id.rv = compactRV
	}
	if !uidOK || !rvOK {
		id.odd = &oddIdentity{uid: uid, rv: rv, isUID: !uidOK, isRV: !rvOK}
	}
	return id
}

func (id identity) UID() types.UID {
	if id.odd != nil && id.odd.isUID {
		return id.odd.uid
	}
	return types.UID(formatUUID(id.uid))
}

func (id identity) ResourceVersion() string {
	if id.odd != nil && id.odd.isRV {
		return id.odd.rv
	}
	return strconv.FormatUint(id.rv, 10)
}

// parseRV reads a resourceVersion written as a decimal number without a sign or leading zero, the only form that
// FormatUint gives back as it was; "0" and "" are odd (an empty one must stay empty).
func parseRV(rv string) (uint64, bool) {
	n, err := strconv.ParseUint(rv, 10, 64)
	return n, err == nil && n != 0 && strconv.FormatUint(n, 10) == rv
}

// parseUUID reads a UUID in its canonical lowercase 8-4-4-4-12 form, the only one formatUUID gives back.
func parseUUID(s string) ([16]byte, bool) {
	var out [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, false
	}
	hexDigits := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	for _, c := range []byte(hexDigits) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return out, false
		}
	}
	if _, err := hex.Decode(out[:], []byte(hexDigits)); err != nil {
		return out, false
	}
	return out, true
}

func formatUUID(b [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], b[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], b[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], b[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], b[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], b[10:])
	return string(buf[:])
}
