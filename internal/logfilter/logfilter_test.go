package logfilter

import (
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
)

func TestWithoutHTTPBodies_DropsBodiesAtEveryLevelAndKeepsTheRest(t *testing.T) {
	var lines []string
	base := funcr.New(func(prefix, args string) { lines = append(lines, prefix+" "+args) }, funcr.Options{Verbosity: 10})
	l := WithoutHTTPBodies(base).WithName("client").WithValues("controller", "configmapsync")
	l.V(8).Info("Response Body", "body", `{"message":"token must not be c2VjcmV0"}`)
	l.WithCallDepth(2).V(8).Info("Request Body", "body", "c2VjcmV0")
	l.V(1).Info("Synced copy", "namespace", "team-b")
	l.Error(nil, "Reconciler error")
	assert.Len(t, lines, 2)
	for _, line := range lines {
		assert.NotContains(t, line, "c2VjcmV0")
		assert.Contains(t, line, "configmapsync")
	}
}
