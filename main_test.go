package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSoftMemoryLimit(t *testing.T) {
	limit, ok := softMemoryLimit("268435456", "")
	assert.True(t, ok)
	assert.Equal(t, int64(241591910), limit, "90 % of 256 MiB")

	for _, tc := range []struct{ container, goMemLimit string }{
		{"", ""},                // no limit
		{"268435456", "100MiB"}, // GOMEMLIMIT set by the user wins
		{"not-a-number", ""},    // malformed
		{"0", ""},               // no limit either
	} {
		_, ok := softMemoryLimit(tc.container, tc.goMemLimit)
		assert.False(t, ok, "%+v", tc)
	}
}
