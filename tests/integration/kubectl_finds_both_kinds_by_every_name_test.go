package integration

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
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

// TestKubectlGetShowsTheReadyReasonOfBothKinds reads `kubectl get`'s table for both kinds: the READY and REASON
// columns hold the status and reason of each object's Ready condition, as the user guide's troubleshooting promises.
func TestKubectlGetShowsTheReadyReasonOfBothKinds(t *testing.T) {
	admin, err := env.AddUser(envtest.User{Name: "kubectl-columns", Groups: []string{"system:masters"}}, nil)
	require.NoError(t, err)
	kubectlCmd, err := admin.Kubectl()
	require.NoError(t, err)
	ns := kit.NewNamespace(t, "columns")
	kit.Create(t, harness.ConfigMap(ns, "settings", map[string]string{"k": "v"}))
	cms := v1Sync(ns, "columns-sync", "settings", kit.NewNamespace(t, "columns-dest"))
	ms := managedSecret(ns, "columns-secret", msLiteral("user", "app"))
	kit.Create(t, cms)
	kit.Create(t, ms)

	for resource, obj := range map[string]client.Object{"configmapsyncs": cms, "managedsecrets": ms} {
		var ready *metav1.Condition
		harness.Eventually(t, k8s, obj, func(c *assert.CollectT, obj client.Object) {
			ready = meta.FindStatusCondition(*conditionsOf(obj), syncv1.ReadyCondition)
			assert.NotNil(c, ready, "%s has a Ready condition", resource)
		})
		columns := tableRow(t, runKubectl(t, kubectlCmd.Run, "get", resource, obj.GetName(), "-n", ns))
		assert.Equal(t, string(ready.Status), columns["READY"], "kubectl get %s: READY", resource)
		assert.Equal(t, ready.Reason, columns["REASON"], "kubectl get %s: REASON", resource)
	}
}

// conditionsOf returns the conditions of a ConfigMapSync or a ManagedSecret.
func conditionsOf(obj client.Object) *[]metav1.Condition {
	switch o := obj.(type) {
	case *syncv1.ConfigMapSync:
		return &o.Status.Conditions
	case *syncv1.ManagedSecret:
		return &o.Status.Conditions
	}
	panic("no conditions on " + obj.GetObjectKind().GroupVersionKind().Kind)
}

// tableRow parses kubectl's table of one object (a header line and one row) into the row's cells by header. kubectl
// aligns every column at its header's first character and pads with at least three spaces, so a header may hold
// one space ("NEXT ROTATION") and a cell may be empty.
func tableRow(t *testing.T, table string) map[string]string {
	t.Helper()
	lines := strings.Split(table, "\n")
	require.Len(t, lines, 2, "one header and one row: %q", table)
	header, row := lines[0], lines[1]+strings.Repeat(" ", len(lines[0]))
	starts := columnStart.FindAllStringIndex(header, -1)
	cells := make(map[string]string, len(starts))
	for i, span := range starts {
		end := len(row)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		cells[strings.TrimSpace(header[span[0]:span[1]])] = strings.TrimSpace(row[span[0]:end])
	}
	return cells
}

// columnStart matches a header of kubectl's table: words separated by single spaces.
var columnStart = regexp.MustCompile(`\S+( \S+)*`)
