// Package integration runs the operator, wired exactly as main.go wires it, against a real kube-apiserver and etcd
// (envtest) with its webhooks installed, and checks what it does through the API server.
package integration

import (
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// k8s is a client with cluster-admin rights, used by the tests to act as the user and to inspect results; kit
// binds the harness's helpers to it.
var (
	k8s client.Client
	kit harness.Kit
	env *harness.Env
)

func TestMain(m *testing.M) {
	// Everything the operator logs, at the most verbose level, goes to operatorLogs (the no-leak test searches it).
	os.Exit(harness.RunSuite(m, harness.SuiteOptions{
		Options: harness.Options{Operator: func(o *operator.Options) {
			o.ExcludedNamespaces = []string{operatorExcluded + "*"} // as --excluded-namespaces=off-limits-*
			o.AccessRecheckTTL = time.Second                        // rights revoked and granted again take effect within a resync
		}},
		Logs: &operatorLogs, LogLevel: zapcore.Level(-10),
		Setup: func(e *harness.Env) error {
			env, k8s, kit = e, e.Client, harness.Kit{Client: e.Client}
			return nil
		},
	}))
}

// operatorExcluded starts the names of the namespaces the suite's operator may never write to.
const operatorExcluded = "off-limits-"

// stopOperator stops the running operator; startOperator starts a new one, as a restart of the process would.
func stopOperator() { env.StopOperator() }

func startOperator(t *testing.T) {
	t.Helper()
	if err := env.StartOperator(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// operatorLogs holds everything the operator logged in this test process.
var operatorLogs lockedBuffer

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
