package secretgen

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAlphabetsHaveTheDocumentedCharacters(t *testing.T) {
	sizes := map[string]int{
		Alphanumeric: 62, Alphabetic: 52, Numeric: 10, Hex: 16, Base64URL: 64, PrintableWithoutQuotes: 90,
	}
	assert.Len(t, Alphabets(), len(sizes))
	for name, size := range sizes {
		chars, ok := AlphabetChars(name)
		require.True(t, ok, name)
		assert.Len(t, chars, size, name)
		seen := map[rune]bool{}
		for _, c := range chars {
			assert.False(t, seen[c], "%s repeats %q", name, c)
			seen[c] = true
		}
	}
	printable, _ := AlphabetChars(PrintableWithoutQuotes)
	assert.NotContains(t, printable, `"`)
	assert.NotContains(t, printable, `'`)
	assert.NotContains(t, printable, "`")
	assert.NotContains(t, printable, `\`)
	assert.NotContains(t, printable, " ")
	hexChars, _ := AlphabetChars(Hex)
	assert.Equal(t, "0123456789abcdef", hexChars)
}

func TestRandomStringsHaveTheLengthAndAlphabetAskedFor(t *testing.T) {
	for _, alphabet := range Alphabets() {
		chars, _ := AlphabetChars(alphabet)
		for _, n := range []int{1, 2, 17, 64, MaxLength} {
			s, err := RandomString(n, alphabet)
			require.NoError(t, err)
			assert.Len(t, s, n, alphabet)
			for _, c := range s {
				require.Contains(t, chars, string(c), "%s: %q is not in the alphabet", alphabet, c)
			}
			assert.True(t, randomString{}.Conforms(Params{ParamLength: strconv.Itoa(n), ParamAlphabet: alphabet}, []byte(s)))
		}
	}
}

func TestRandomStringRejectsBadArguments(t *testing.T) {
	for _, n := range []int{-1, 0, MaxLength + 1} {
		_, err := RandomString(n, Alphanumeric)
		assert.Error(t, err, n)
	}
	_, err := RandomString(8, "Emoji")
	assert.Error(t, err)
}

func TestRandomStringsAreUnique(t *testing.T) {
	const draws = 20000
	seen := make(map[string]bool, draws)
	for range draws {
		s, err := RandomString(16, Alphanumeric)
		require.NoError(t, err)
		require.False(t, seen[s], "a 16-character string repeated within %d draws", draws)
		seen[s] = true
	}
}

// TestRandomStringsAreRoughlyUniform counts characters over many draws and applies a chi-squared test. With
// alphabets whose size does not divide 256, a modulo-biased generator fails it by far: for PrintableWithoutQuotes
// (90 characters) the first 76 would come 50% more often than the others.
func TestRandomStringsAreRoughlyUniform(t *testing.T) {
	for _, alphabet := range []string{Alphanumeric, Numeric, PrintableWithoutQuotes, Base64URL} {
		chars, _ := AlphabetChars(alphabet)
		const perChar = 2000
		counts := map[byte]int{}
		remaining := perChar * len(chars)
		for remaining > 0 {
			n := min(remaining, MaxLength)
			s, err := RandomString(n, alphabet)
			require.NoError(t, err)
			for i := range len(s) {
				counts[s[i]]++
			}
			remaining -= n
		}
		chi2 := 0.0
		for i := range len(chars) {
			d := float64(counts[chars[i]] - perChar)
			chi2 += d * d / perChar
		}
		// chi2 has mean df = len-1 and standard deviation sqrt(2*df); six deviations above the mean happen by
		// chance far less than once in a million runs.
		df := float64(len(chars) - 1)
		limit := df + 6*math.Sqrt(2*df)
		assert.Less(t, chi2, limit, "%s: chi-squared %.1f over %d degrees of freedom", alphabet, chi2, int(df))
	}
}

// TestRejectionSamplingSkipsBytesThatWouldBiasTheChoice feeds known bytes: for 62 characters every byte from 248
// up must be skipped, and every byte below picks chars[b % 62].
func TestRejectionSamplingSkipsBytesThatWouldBiasTheChoice(t *testing.T) {
	chars, _ := AlphabetChars(Alphanumeric)
	in := append([]byte{248, 255, 0, 61, 250, 62, 247}, bytes.Repeat([]byte{1}, 64)...)
	rnd := bytes.NewReader(in)
	s, err := randomFrom(rnd, 4, chars)
	require.NoError(t, err)
	assert.Equal(t, string([]byte{chars[0], chars[61], chars[0], chars[247%62]}), s)

	_, err = randomFrom(bytes.NewReader(nil), 4, chars)
	assert.Error(t, err, "a failing random source is an error, not a short value")
}

func TestRandomBytesHaveTheLengthAndEncodingAskedFor(t *testing.T) {
	for _, n := range []int{1, 16, 32, MaxLength} {
		b64, err := RandomBytes(n, EncodingBase64)
		require.NoError(t, err)
		raw, err := base64.StdEncoding.DecodeString(string(b64))
		require.NoError(t, err)
		assert.Len(t, raw, n)

		hx, err := RandomBytes(n, EncodingHex)
		require.NoError(t, err)
		assert.Len(t, hx, 2*n)
		_, err = hex.DecodeString(string(hx))
		require.NoError(t, err)
		assert.Equal(t, strings.ToLower(string(hx)), string(hx))

		raw, err = RandomBytes(n, EncodingRaw)
		require.NoError(t, err)
		assert.Len(t, raw, n)

		for _, e := range []string{EncodingBase64, EncodingHex, EncodingRaw} {
			v, err := randomBytes{}.Generate(Params{ParamLength: strconv.Itoa(n), ParamEncoding: e})
			require.NoError(t, err)
			assert.True(t, randomBytes{}.Conforms(Params{ParamLength: strconv.Itoa(n), ParamEncoding: e}, v), e)
		}
	}
	_, err := RandomBytes(0, EncodingRaw)
	assert.Error(t, err)
	_, err = RandomBytes(8, "Base32")
	assert.Error(t, err)
}

func TestRandomBytesAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 20000 {
		b, err := RandomBytes(16, EncodingHex)
		require.NoError(t, err)
		require.False(t, seen[string(b)])
		seen[string(b)] = true
	}
}

func TestUUIDsAreVersion4AndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 20000 {
		u, err := UUID()
		require.NoError(t, err)
		require.Len(t, u, 36)
		require.True(t, IsUUIDv4(u), u)
		require.Equal(t, byte('4'), u[14], "version nibble")
		require.Contains(t, "89ab", string(u[19]), "variant bits 10xx")
		require.False(t, seen[u])
		seen[u] = true
	}
	assert.False(t, IsUUIDv4("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "a version 1 UUID")
	assert.False(t, IsUUIDv4("F47AC10B-58CC-4372-A567-0E02B2C3D479"), "not lowercase")
	assert.False(t, IsUUIDv4(""))
}

func TestGetKnowsTheBuiltInGeneratorsAndNamesThemWhenAskedForAnother(t *testing.T) {
	for _, name := range []string{GeneratorBytes, GeneratorRandom, GeneratorUUID} {
		g, err := Get(name)
		require.NoError(t, err, name)
		require.NotNil(t, g, name)
	}
	_, err := Get("password-phrase")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"password-phrase"`)
	assert.Contains(t, err.Error(), "bytes, random, uuid")
}

func TestNormalizeFillsDefaultsAndRejectsBadParameters(t *testing.T) {
	random, _ := Get(GeneratorRandom)
	p, err := random.Normalize(nil)
	require.NoError(t, err)
	assert.Equal(t, Params{ParamLength: "32", ParamAlphabet: Alphanumeric}, p)
	p2, err := random.Normalize(Params{ParamLength: "32", ParamAlphabet: Alphanumeric})
	require.NoError(t, err)
	assert.Equal(t, p, p2, "defaults and explicit defaults normalize alike")

	for _, bad := range []Params{
		{ParamLength: "0"}, {ParamLength: "4097"}, {ParamLength: "ten"}, {ParamAlphabet: "Emoji"}, {ParamEncoding: "Hex"},
	} {
		_, err := random.Normalize(bad)
		assert.Error(t, err, "%v", bad)
	}

	byteGen, _ := Get(GeneratorBytes)
	p, err = byteGen.Normalize(Params{ParamLength: "16"})
	require.NoError(t, err)
	assert.Equal(t, Params{ParamLength: "16", ParamEncoding: EncodingBase64}, p)
	_, err = byteGen.Normalize(Params{ParamEncoding: "Base32"})
	assert.Error(t, err)

	uuidGen, _ := Get(GeneratorUUID)
	p, err = uuidGen.Normalize(nil)
	require.NoError(t, err)
	assert.Empty(t, p)
	_, err = uuidGen.Normalize(Params{ParamLength: "3"})
	assert.Error(t, err)
}

func TestConformsRejectsValuesOfAnotherShape(t *testing.T) {
	alnum := Params{ParamLength: "4", ParamAlphabet: Alphanumeric}
	assert.True(t, randomString{}.Conforms(alnum, []byte("aB3z")))
	assert.False(t, randomString{}.Conforms(alnum, []byte("aB3")), "too short")
	assert.False(t, randomString{}.Conforms(alnum, []byte("aB3-")), "outside the alphabet")
	assert.False(t, randomString{}.Conforms(alnum, nil), "emptied")

	hex4 := Params{ParamLength: "2", ParamEncoding: EncodingHex}
	assert.True(t, randomBytes{}.Conforms(hex4, []byte("0aff")))
	assert.False(t, randomBytes{}.Conforms(hex4, []byte("0AFF")), "uppercase is not what Generate makes")
	assert.False(t, randomBytes{}.Conforms(hex4, []byte("0aff00")), "three bytes")
	b64 := Params{ParamLength: "3", ParamEncoding: EncodingBase64}
	assert.True(t, randomBytes{}.Conforms(b64, []byte("AAEC")))
	assert.False(t, randomBytes{}.Conforms(b64, []byte("AAE")), "not base64")
	assert.False(t, randomBytes{}.Conforms(Params{ParamLength: "3", ParamEncoding: EncodingRaw}, []byte("ab")))
}
