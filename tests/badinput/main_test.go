// Package badinput sends invalid and hostile input to a real kube-apiserver with the operator's CRDs and webhooks
// installed and the operator running (envtest, wired as main.go wires it), and checks that each input is either
// rejected with a message that names the field and the rule, with nothing written, or handled safely.
package badinput

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// k8s has cluster-admin rights; the cases use it to act as an administrator and to inspect results. kit binds the
// harness's helpers to it.
var (
	k8s client.Client
	kit harness.Kit
	env *harness.Env
)

// parallelCases is how many cases run at once unless -test.parallel says otherwise. The cases spend their time
// waiting for the API server and the operator, not on the CPU, so more than GOMAXPROCS keeps the suite short.
const parallelCases = 12

func TestMain(m *testing.M) {
	flag.Parse()
	if !flagSet("test.parallel") {
		_ = flag.Set("test.parallel", fmt.Sprint(parallelCases))
	}
	os.Exit(harness.RunSuite(m, harness.SuiteOptions{Setup: func(e *harness.Env) error {
		// v1beta1 is deprecated and the API server says so on every request; the cases use it on purpose.
		cfg := rest.CopyConfig(e.Config)
		cfg.WarningHandler = rest.NoWarnings{}
		c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
		env, k8s, kit = e, c, harness.Kit{Client: c}
		return err
	}}))
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
