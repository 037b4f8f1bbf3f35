// Package secretgen generates secret values from crypto/rand: random strings over a fixed alphabet, random bytes
// in an encoding, and version 4 UUIDs. Generators are looked up by the name the API gives them (Get), so that a new
// kind is one more entry in builtIn and its callers stay as they are.
//
// Nothing here logs, and no error carries a generated value.
package secretgen

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Names of the built-in generators.
const (
	// GeneratorRandom draws a string of Params[ParamLength] characters from Params[ParamAlphabet].
	GeneratorRandom = "random"
	// GeneratorBytes draws Params[ParamLength] random bytes and encodes them with Params[ParamEncoding].
	GeneratorBytes = "bytes"
	// GeneratorUUID draws a version 4 (random) UUID in its canonical lowercase form.
	GeneratorUUID = "uuid"
)

// Names of generator parameters.
const (
	ParamLength   = "length"
	ParamAlphabet = "alphabet"
	ParamEncoding = "encoding"
)

// Bounds and defaults of the built-in generators.
const (
	MinLength     = 1
	MaxLength     = 4096
	DefaultLength = 32
)

// Alphabets of the random generator.
const (
	// Alphanumeric is A-Z, a-z and 0-9 (62 characters). The default.
	Alphanumeric = "Alphanumeric"
	// Alphabetic is A-Z and a-z (52 characters).
	Alphabetic = "Alphabetic"
	// Numeric is 0-9 (10 characters).
	Numeric = "Numeric"
	// Hex is 0-9 and a-f, lowercase (16 characters).
	Hex = "Hex"
	// Base64URL is the URL-safe base64 alphabet: A-Z, a-z, 0-9, '-' and '_' (64 characters).
	Base64URL = "Base64URL"
	// PrintableWithoutQuotes is printable ASCII without space, quotes (" ' `) and backslash (90 characters), so a
	// value can be pasted between quotes in a shell, YAML or JSON without escaping.
	PrintableWithoutQuotes = "PrintableWithoutQuotes"
)

// Encodings of the bytes generator.
const (
	// EncodingBase64 is standard base64 with padding. The default.
	EncodingBase64 = "Base64"
	// EncodingHex is lowercase hexadecimal.
	EncodingHex = "Hex"
	// EncodingRaw stores the bytes as they are.
	EncodingRaw = "Raw"
)

const (
	upper  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower  = "abcdefghijklmnopqrstuvwxyz"
	digits = "0123456789"
)

var alphabets = map[string]string{
	Alphanumeric:           upper + lower + digits,
	Alphabetic:             upper + lower,
	Numeric:                digits,
	Hex:                    digits + "abcdef",
	Base64URL:              upper + lower + digits + "-_",
	PrintableWithoutQuotes: printableWithoutQuotes(),
}

func printableWithoutQuotes() string {
	var b strings.Builder
	for c := byte('!'); c <= '~'; c++ {
		if !strings.ContainsRune("\"'`\\", rune(c)) {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Alphabets returns the names of the random generator's alphabets, sorted.
func Alphabets() []string { return slices.Sorted(maps.Keys(alphabets)) }

// AlphabetChars returns the characters of a named alphabet, and false for an unknown name.
func AlphabetChars(name string) (string, bool) {
	chars, ok := alphabets[name]
	return chars, ok
}

// Params are a generator's parameters by name. They describe how values are made and are never secret.
type Params map[string]string

// Generator makes values of one kind.
type Generator interface {
	// Normalize validates p and returns it with defaults filled in and unknown parameters rejected, so that equal
	// settings always give equal Params.
	Normalize(p Params) (Params, error)
	// Generate returns a new value for normalized p.
	Generate(p Params) ([]byte, error)
	// Conforms reports whether value has the shape Generate gives for normalized p (length, alphabet,
	// encoding). It tells a value that was emptied or edited into another shape from a generated one.
	Conforms(p Params, value []byte) bool
}

// builtIn maps the generator names of the API to their generators.
var builtIn = map[string]Generator{
	GeneratorRandom: randomString{},
	GeneratorBytes:  randomBytes{},
	GeneratorUUID:   uuidV4{},
}

// Get returns the generator called name.
func Get(name string) (Generator, error) {
	g, ok := builtIn[name]
	if !ok {
		return nil, fmt.Errorf("unknown generator %q (known: %s)", name, strings.Join(slices.Sorted(maps.Keys(builtIn)), ", "))
	}
	return g, nil
}

// --- random strings --------------------------------------------------------------------------------------------

type randomString struct{}

func (randomString) Normalize(p Params) (Params, error) {
	if err := onlyParams(p, ParamLength, ParamAlphabet); err != nil {
		return nil, err
	}
	n, err := length(p)
	if err != nil {
		return nil, err
	}
	a := p[ParamAlphabet]
	if a == "" {
		a = Alphanumeric
	}
	if _, ok := alphabets[a]; !ok {
		return nil, fmt.Errorf("alphabet %q is not one of %s", a, strings.Join(Alphabets(), ", "))
	}
	return Params{ParamLength: strconv.Itoa(n), ParamAlphabet: a}, nil
}

func (g randomString) Generate(p Params) ([]byte, error) {
	p, err := g.Normalize(p)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(p[ParamLength])
	s, err := RandomString(n, p[ParamAlphabet])
	return []byte(s), err
}

func (randomString) Conforms(p Params, value []byte) bool {
	n, err := strconv.Atoi(p[ParamLength])
	chars, ok := alphabets[p[ParamAlphabet]]
	if err != nil || !ok || len(value) != n {
		return false
	}
	for _, c := range value {
		if strings.IndexByte(chars, c) < 0 {
			return false
		}
	}
	return true
}

// RandomString returns n characters drawn uniformly and independently from the named alphabet.
func RandomString(n int, alphabet string) (string, error) {
	chars, ok := alphabets[alphabet]
	if !ok {
		return "", fmt.Errorf("unknown alphabet %q", alphabet)
	}
	if n < MinLength || n > MaxLength {
		return "", fmt.Errorf("length %d is not between %d and %d", n, MinLength, MaxLength)
	}
	return randomFrom(rand.Reader, n, chars)
}

// randomFrom draws n characters from chars (at most 256 of them) with rejection sampling: a random byte b is used
// only when it is below the largest multiple of len(chars) that fits in a byte, and then picks chars[b % len].
// Every character is then exactly as likely as every other; taking b % len of every byte would favour the first
// 256 % len characters.
func randomFrom(rnd io.Reader, n int, chars string) (string, error) {
	size := len(chars)
	if size == 0 || size > 256 {
		return "", errors.New("an alphabet must have between 1 and 256 characters")
	}
	limit := 256 - 256%size // bytes at or above limit are rejected
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8) // a little more than needed: few draws are rejected for any alphabet here
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, chars[int(b)%size])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

// --- random bytes ----------------------------------------------------------------------------------------------

type randomBytes struct{}

func (randomBytes) Normalize(p Params) (Params, error) {
	if err := onlyParams(p, ParamLength, ParamEncoding); err != nil {
		return nil, err
	}
	n, err := length(p)
	if err != nil {
		return nil, err
	}
	e := p[ParamEncoding]
	if e == "" {
		e = EncodingBase64
	}
	switch e {
	case EncodingBase64, EncodingHex, EncodingRaw:
	default:
		return nil, fmt.Errorf("encoding %q is not one of %s, %s, %s", e, EncodingBase64, EncodingHex, EncodingRaw)
	}
	return Params{ParamLength: strconv.Itoa(n), ParamEncoding: e}, nil
}

func (g randomBytes) Generate(p Params) ([]byte, error) {
	p, err := g.Normalize(p)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(p[ParamLength])
	return RandomBytes(n, p[ParamEncoding])
}

func (randomBytes) Conforms(p Params, value []byte) bool {
	n, err := strconv.Atoi(p[ParamLength])
	if err != nil {
		return false
	}
	switch p[ParamEncoding] {
	case EncodingRaw:
		return len(value) == n
	case EncodingHex:
		b, err := hex.DecodeString(string(value))
		return err == nil && len(b) == n && strings.ToLower(string(value)) == string(value)
	case EncodingBase64:
		b, err := base64.StdEncoding.Strict().DecodeString(string(value))
		return err == nil && len(b) == n
	}
	return false
}

// RandomBytes returns n random bytes in the named encoding.
func RandomBytes(n int, encoding string) ([]byte, error) {
	if n < MinLength || n > MaxLength {
		return nil, fmt.Errorf("length %d is not between %d and %d", n, MinLength, MaxLength)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	switch encoding {
	case EncodingBase64, "":
		return []byte(base64.StdEncoding.EncodeToString(b)), nil
	case EncodingHex:
		return []byte(hex.EncodeToString(b)), nil
	case EncodingRaw:
		return b, nil
	}
	return nil, fmt.Errorf("unknown encoding %q", encoding)
}

// --- UUIDs -----------------------------------------------------------------------------------------------------

type uuidV4 struct{}

// uuidV4Pattern matches a canonical lowercase version 4, variant 10xx UUID.
var uuidV4Pattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func (uuidV4) Normalize(p Params) (Params, error) {
	if err := onlyParams(p); err != nil {
		return nil, err
	}
	return Params{}, nil
}

func (uuidV4) Generate(Params) ([]byte, error) {
	s, err := UUID()
	return []byte(s), err
}

func (uuidV4) Conforms(_ Params, value []byte) bool { return IsUUIDv4(string(value)) }

// UUID returns a new random (version 4) UUID, lowercase, in its 8-4-4-4-12 form.
func UUID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10xx (RFC 9562)
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// IsUUIDv4 reports whether s is a canonical lowercase version 4 UUID.
func IsUUIDv4(s string) bool { return uuidV4Pattern.MatchString(s) }

// --- helpers ---------------------------------------------------------------------------------------------------

func length(p Params) (int, error) {
	s := p[ParamLength]
	if s == "" {
		return DefaultLength, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < MinLength || n > MaxLength {
		return 0, fmt.Errorf("length %q is not a number between %d and %d", s, MinLength, MaxLength)
	}
	return n, nil
}

func onlyParams(p Params, allowed ...string) error {
	for k := range p {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("unknown parameter %q", k)
		}
	}
	return nil
}
