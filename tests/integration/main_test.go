// Package integration runs the operator, wired exactly as main.go wires it, against a real kube-apiserver and etcd
// (envtest) with its webhooks installed, and checks what it does through the API server.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// k8s is a client with cluster-admin rights, used by the tests to act as the user and to inspect results.
var (
	k8s client.Client
	env *harness.Env
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Everything the operator logs, at the most verbose level, goes to operatorLogs (the no-leak test searches
	// it); with TEST_VERBOSE=1 it goes to stderr too.
	var out io.Writer = &operatorLogs
	if os.Getenv("TEST_VERBOSE") != "" {
		out = io.MultiWriter(&operatorLogs, os.Stderr)
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(out), zap.Level(zapcore.Level(-10))))
	var err error
	if env, err = harness.Start(harness.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client

	if stopOperator, err = env.RunOperator(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { stopOperator() }()
	return m.Run()
}

// stopOperator stops the running operator; startOperator starts a new one, as a restart of the process would.
var stopOperator func()

func startOperator(t *testing.T) {
	t.Helper()
	stop, err := env.RunOperator(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stopOperator = stop
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
