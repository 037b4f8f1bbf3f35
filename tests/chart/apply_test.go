package chart

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// apiServer is a control plane with cert-manager's and the Prometheus Operator's CRDs (not the operator's: the chart
// brings them) and the release's namespace, as `helm install --create-namespace` makes it; started by the first test
// that needs it, stopped by TestMain.
var apiServer struct {
	once sync.Once
	env  *harness.Env
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if apiServer.env != nil {
		_ = apiServer.env.Stop()
	}
	os.Exit(code)
}

func startAPIServer(t *testing.T) *harness.Env {
	t.Helper()
	apiServer.once.Do(func() {
		env, err := harness.Start(harness.Options{NoAdmissionWebhooks: true, CRDPaths: []string{
			harness.Path("tests", "testdata", "cert-manager-crds"), harness.Path("tests", "testdata", "prometheus-crds")}})
		if err != nil {
			apiServer.err = err
			return
		}
		apiServer.env = env
		apiServer.err = env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
	})
	require.NoError(t, apiServer.err)
	return apiServer.env
}

func TestEveryRenderingPassesServerSideDryRun(t *testing.T) {
	env := startAPIServer(t)
	ctx := context.Background()
	for name, args := range map[string][]string{"default values": nil, "every value set": everyValue} {
		t.Run(name, func(t *testing.T) {
			objs := helmTemplate(t, args...)
			require.NotEmpty(t, objs)
			for _, obj := range objs {
				err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()), client.DryRunAll,
					client.FieldOwner("helm"), client.ForceOwnership)
				assert.NoError(t, err, "%s", key(obj))
			}
		})
	}
}

// TestAnUpgradeKeepsTheCertificate renders the chart as `helm upgrade` does, against a cluster that holds the
// Secret of an earlier install: the certificate and CA are the installed ones (lookup), not new ones that would
// make the webhooks' caBundle change under running pods.
func TestAnUpgradeKeepsTheCertificate(t *testing.T) {
	env := startAPIServer(t)
	ctx := context.Background()
	installed := find(helmTemplate(t), "Secret", certSecret)
	require.NotNil(t, installed)
	require.NoError(t, env.Client.Create(ctx, installed.DeepCopy()))

	user, err := env.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, env.Config)
	require.NoError(t, err)
	kubeconfig, err := user.KubeConfig()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(path, kubeconfig, 0o600))

	objs := helmTemplate(t, "--dry-run=server", "--kubeconfig", path)
	secret := find(objs, "Secret", certSecret)
	require.NotNil(t, secret)
	assert.Equal(t, installed.Object["data"], secret.Object["data"], "the installed certificate is kept")
	for where, bundle := range caBundles(t, objs) {
		assert.Equal(t, installed.Object["data"].(map[string]any)["ca.crt"], bundle, "%s", where)
	}

	// Without a cluster to look in, a new CA: the comparison above is not true by accident.
	fresh := find(helmTemplate(t), "Secret", certSecret)
	assert.NotEqual(t, installed.Object["data"], fresh.Object["data"])
}
