package syncer

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
)

func TestIdentity_RoundTripsEveryUIDAndResourceVersion(t *testing.T) {
	for _, tc := range []struct {
		uid     types.UID
		rv      string
		compact bool
	}{
		{"5f0c2a4e-1111-2222-3333-0123456789ab", "1234567", true},  // as the API server writes them
		{"5F0C2A4E-1111-2222-3333-0123456789AB", "1234567", false}, // upper case: kept as given
		{"not-a-uuid", "1", false},
		{"", "", false},
		{"5f0c2a4e-1111-2222-3333-0123456789ab", "0123", false}, // a leading zero
		{"5f0c2a4e-1111-2222-3333-0123456789ab", "0", false},
		{"5f0c2a4e-1111-2222-3333-0123456789ab", "opaque-version", false},
		{"5f0c2a4e-1111-2222-3333-0123456789ab", "18446744073709551616", false}, // over uint64
		{"5f0c2a4e+1111-2222-3333-0123456789ab", "5", false},
		{"5f0c2a4e-1111-2222-3333-0123456789ag", "5", false},
	} {
		id := makeIdentity(tc.uid, tc.rv)
		assert.Equal(t, tc.uid, id.UID(), "%+v", tc)
		assert.Equal(t, tc.rv, id.ResourceVersion(), "%+v", tc)
		assert.Equal(t, tc.compact, id.odd == nil, "%+v: compact", tc)
	}
}

func TestView_SettersKeepTheOtherHalfOfTheIdentity(t *testing.T) {
	v := &View{identity: makeIdentity("5f0c2a4e-1111-2222-3333-0123456789ab", "42")}
	v.SetResourceVersion("43")
	assert.Equal(t, types.UID("5f0c2a4e-1111-2222-3333-0123456789ab"), v.GetUID())
	assert.Equal(t, "43", v.GetResourceVersion())
	v.SetUID("other")
	assert.Equal(t, types.UID("other"), v.GetUID())
	assert.Equal(t, "43", v.GetResourceVersion())
}
