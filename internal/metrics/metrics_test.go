package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/types"
)

func TestNextRotationIsTheEarliestAndForgetsWhatIsGone(t *testing.T) {
	a, b := types.NamespacedName{Namespace: "n", Name: "a"}, types.NamespacedName{Namespace: "n", Name: "b"}
	t0 := time.Unix(1_800_000_000, 0)
	SetNextRotation(a, t0.Add(time.Hour))
	SetNextRotation(b, t0)
	assert.Equal(t, float64(t0.Unix()), testutil.ToFloat64(NextRotation), "the earliest of two")
	SetNextRotation(b, t0.Add(2*time.Hour))
	assert.Equal(t, float64(t0.Add(time.Hour).Unix()), testutil.ToFloat64(NextRotation), "b moved on")
	SetNextRotation(a, time.Time{})
	assert.Equal(t, float64(t0.Add(2*time.Hour).Unix()), testutil.ToFloat64(NextRotation), "a forgotten")
	SetNextRotation(b, time.Time{})
	assert.Zero(t, testutil.ToFloat64(NextRotation), "none scheduled")
}
