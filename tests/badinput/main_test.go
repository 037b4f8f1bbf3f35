// Package badinput sends invalid and hostile input to a real kube-apiserver with the operator's CRDs and webhooks
// installed and the operator running (envtest, wired as main.go wires it), and checks that each input is either
// rejected with a message that names the field and the rule, with nothing written, or handled safely.
package badinput

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"testing"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// k8s has cluster-admin rights; the cases use it to act as an administrator and to inspect results.
var (
	k8s client.Client
	env *harness.Env
)

// parallelCases is how many cases run at once unless -test.parallel says otherwise. The cases spend their time
// waiting for the API server and the operator, not on the CPU, so more than GOMAXPROCS keeps the suite short.
const parallelCases = 12

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if !flagSet("test.parallel") {
		_ = flag.Set("test.parallel", fmt.Sprint(parallelCases))
	}
	out := io.Discard
	if os.Getenv("TEST_VERBOSE") != "" {
		out = os.Stderr
	}
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(out), zap.Level(zapcore.InfoLevel)))

	var err error
	if env, err = harness.Start(harness.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	// v1beta1 is deprecated and the API server says so on every request; the cases use it on purpose.
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = rest.NoWarnings{}
	if k8s, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	stop, err := env.RunOperator(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()
	return m.Run()
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
