package integration

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestKubectlFindsBothKindsByEveryName runs the real kubectl against the CRDs: `kubectl get` by singular, plural
// and short name finds exactly one kind, and the category lists both. kubectl expands categories before names, so
// a category equal to a kind's singular name would make `kubectl get configmapsync NAME` look NAME up among
// ManagedSecrets too, and fail.
func TestKubectlFindsBothKindsByEveryName(t *testing.T) {
	admin, err := env.AddUser(envtest.User{Name: "kubectl-admin", Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	kubectlCmd, err := admin.Kubectl()
	require.NoError(t, err)
	kubectl := func(args ...string) string { return runKubectl(t, kubectlCmd.Run, args...) }
	ns := kit.NewNamespace(t, "kubectl")
	kit.Create(t, harness.ConfigMap(ns, "settings", map[string]string{"k": "v"}))
	kit.Create(t, v1Sync(ns, "only-a-sync", "settings", ns+"-nowhere"))
	kit.Create(t, managedSecret(ns, "only-a-secret", msLiteral("user", "app")))

	names := map[string][]string{
		"configmapsync.sync.configmapsync.io/only-a-sync":   {"configmapsync", "configmapsyncs", "cms", "cmsync"},
		"managedsecret.sync.configmapsync.io/only-a-secret": {"managedsecret", "managedsecrets", "msec"},
	}
	for want, resources := range names {
		name := want[strings.LastIndex(want, "/")+1:]
		for _, resource := range resources {
			assert.Equal(t, want, kubectl("get", resource, name, "-n", ns, "-o", "name"), "kubectl get %s %s", resource, name)
			assert.Equal(t, want, kubectl("get", resource, "-n", ns, "-o", "name"), "kubectl get %s lists one kind", resource)
		}
	}
	assert.ElementsMatch(t, []string{"configmapsync.sync.configmapsync.io/only-a-sync", "managedsecret.sync.configmapsync.io/only-a-secret"},
		strings.Fields(kubectl("get", syncv1.Category, "-n", ns, "-o", "name")), "the category lists both kinds")
}

// runKubectl runs kubectl (KUBEBUILDER_ASSETS's, through run) and returns its trimmed output; it fails the test when kubectl
// fails.
func runKubectl(t *testing.T, run func(args ...string) (io.Reader, io.Reader, error), args ...string) string {
	t.Helper()
	stdout, stderr, err := run(args...)
	var errText []byte
	if stderr != nil {
		errText, _ = io.ReadAll(stderr)
	}
	require.NoError(t, err, "kubectl %s: %s", strings.Join(args, " "), errText)
	out, err := io.ReadAll(stdout)
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
