package harness

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"

	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/configmapsync/configmapsync-operator/internal/logfilter"
)

// SuiteOptions configure RunSuite.
type SuiteOptions struct {
	// Control plane: what to install on it.
	Options
	// Logs receives everything the operator logs (and stderr too with TEST_VERBOSE=1); nil discards it.
	Logs io.Writer
	// LogLevel is the lowest level logged; zapcore.Level(-10) logs every V level.
	LogLevel zapcore.Level
	// Setup runs once the control plane and the operator run, before the tests: it keeps what the suite needs
	// of env (its clients, say). An error fails the suite.
	Setup func(env *Env) error
}

// RunSuite is a suite's TestMain: it starts a control plane and, on it, the operator wired as main.go wires it, runs
// the tests, and stops both. It returns the exit code: TestMain calls os.Exit(harness.RunSuite(m, options)).
func RunSuite(m *testing.M, o SuiteOptions) int {
	out := o.Logs
	if out == nil {
		out = io.Discard
	}
	if os.Getenv("TEST_VERBOSE") != "" {
		out = io.MultiWriter(out, os.Stderr)
	}
	ctrl.SetLogger(logfilter.WithoutHTTPBodies(zap.New(zap.UseDevMode(true), zap.WriteTo(out), zap.Level(o.LogLevel))))

	env, err := Start(o.Options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if err := env.StartOperator(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.StopOperator()
	if o.Setup != nil {
		if err := o.Setup(env); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// operatorRun is the operator StartOperator started last.
type operatorRun struct {
	mu   sync.Mutex
	stop func()
}

// StartOperator starts the operator in this process (RunOperator), as a new process would: nothing carries over
// from the one StopOperator stopped but what is in the API server.
func (e *Env) StartOperator(ctx context.Context) error {
	stop, err := e.RunOperator(ctx)
	if err != nil {
		return err
	}
	e.operator.mu.Lock()
	defer e.operator.mu.Unlock()
	e.operator.stop = stop
	return nil
}

// StopOperator stops the operator StartOperator started and waits until it has stopped; without one it does nothing.
func (e *Env) StopOperator() {
	e.operator.mu.Lock()
	stop := e.operator.stop
	e.operator.stop = nil
	e.operator.mu.Unlock()
	if stop != nil {
		stop()
	}
}
