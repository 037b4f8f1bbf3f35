// Package adversarial runs the operator the way a platform team's tenants meet it, and checks its first promise
// (it never overwrites or deletes what it does not own, and loses nothing) against them: a real kube-apiserver
// with RBAC, tenants with rights in their own namespaces only, and the operator as its own user with exactly the
// rights the release grants it (config/rbac/role.yaml). Tenants act through their own clients; the admin client
// only sets the stage (namespaces, rights) and reads what happened.
package adversarial

import (
	"flag"
	"os"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// admin has cluster-admin rights: it grants the tenants their rights and inspects results; env is the control plane.
var (
	admin client.Client
	env   *harness.Env
)

// parallel is how many tests run at once unless -parallel says otherwise: they spend most of their time waiting
// for the operator (and, by design, watching that it does nothing), not on the CPU, so more than the default of
// one per core keeps the suite short.
const parallel = "4"

func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", parallel)
	}
	os.Exit(harness.RunSuite(m, harness.SuiteOptions{
		Options: harness.Options{OperatorUser: harness.OperatorServiceAccount, Namespace: harness.OperatorNamespace,
			// Rights revoked take effect within a resync, as in tests/integration; the default reuses a decision 30 s.
			Operator: func(o *operator.Options) { o.AccessRecheckTTL = time.Second }},
		Setup: func(e *harness.Env) error {
			env, admin = e, e.Client
			return nil
		},
	}))
}
