//go:build e2e && console

package e2e

import (
	"context"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The objects the console test creates through the console's pages, and what they start from.
const (
	consoleNamespace    = "configmapsync-operator-system" // the CSV's suggested namespace, which the console installs into
	consoleSourceNS     = "console-source"
	consoleSource       = "app-settings"
	consoleSyncName     = "console-settings"
	consoleSecretName   = "console-credentials"
	consoleInvalidName  = "invalid-frequency"
	consoleLiteral      = "console-user-literal"
	consoleCatalogTitle = packageName + "-" + catalogSourceName + "-" + olmNamespace
)

var (
	consoleDestinations = []string{"console-team-a", "console-team-b"}
	consoleKeys         = []string{"region", "log-level"}
)

// TestConsoleInstallAndCreate runs the OKD console (built by `make console` from ../shared/console) against the
// suite's cluster and drives it headless, as a cluster admin would: OperatorHub shows the package from our
// CatalogSource, the console installs it, a ConfigMapSync and a ManagedSecret are created through their forms, and an
// invalid syncFrequency is refused on the form (tests/console/drive.cjs). Then it checks in the cluster that the
// console made what the pages showed. Run it with `make test-console`; the screenshots are in E2E_OUTPUT/console.
func TestConsoleInstallAndCreate(t *testing.T) {
	consoleDir, chromium, driver := os.Getenv("CONSOLE_DIR"), os.Getenv("CHROMIUM"), os.Getenv("CONSOLE_DRIVER")
	require.NotEmpty(t, consoleDir, "CONSOLE_DIR (the console built by make console) is not set; run make test-console")
	s := startStack(t, false)
	s.addCatalogSource(t)
	s.checkCatalogServedFromItsImage(t, csvName(currentVersion))
	s.prepareConsoleSource(t)

	bridge := s.startBridge(t, consoleDir)
	shots := filepath.Join(os.Getenv("E2E_OUTPUT"), "console")
	started := time.Now()
	cmd := exec.Command("node", filepath.Join(repoRoot, "tests", "console", "drive.cjs"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "NODE_PATH="+driver, "CONSOLE_URL="+bridge, "CHROMIUM="+chromium,
		"SCREENSHOTS="+shots, "PACKAGE="+packageName, "CATALOG_TILE="+consoleCatalogTitle,
		"CSV="+csvName(currentVersion), "SOURCE_NS="+consoleSourceNS, "SOURCE_NAME="+consoleSource,
		"DESTINATIONS="+consoleDestinations[0]+","+consoleDestinations[1],
		"KEYS="+consoleKeys[0]+","+consoleKeys[1], "SYNC_NAME="+consoleSyncName, "SECRET_NAME="+consoleSecretName,
		"LITERAL="+consoleLiteral, "INVALID_NAME="+consoleInvalidName)
	require.NoError(t, cmd.Run(), "the console walk failed; screenshots in %s, the bridge's log in %s", shots, s.logs)
	report(t, "console: OperatorHub to a ManagedSecret through the forms, screenshots in %s: %s", shots,
		time.Since(started).Round(time.Second))

	t.Run("the console installed the operator through a Subscription", func(t *testing.T) { s.checkConsoleInstall(t) })
	t.Run("the ConfigMapSync is what the form set, and its copies exist", func(t *testing.T) { s.checkConsoleSync(t) })
	t.Run("the ManagedSecret holds only the typed member of each key", func(t *testing.T) { s.checkConsoleSecret(t) })
	t.Run("the refused ConfigMapSync was not created", func(t *testing.T) {
		err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: consoleSourceNS, Name: consoleInvalidName},
			&syncv1.ConfigMapSync{})
		assert.True(t, apierrors.IsNotFound(err), "Get: %v", err)
	})
}

// prepareConsoleSource creates what a user has before opening the form: the source ConfigMap (with a key the form
// does not select) and the destination namespaces.
func (s *stack) prepareConsoleSource(t *testing.T) {
	t.Helper()
	for _, ns := range append([]string{consoleSourceNS}, consoleDestinations...) {
		s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	s.apply(t, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: consoleSourceNS, Name: consoleSource},
		Data: map[string]string{"region": "eu-west", "log-level": "debug", "not-selected": "stays home"}})
}

// startBridge starts the console's backend against the cluster, as OLM's run_console_local.sh does on kind: no
// OpenShift OAuth, the requests made with a cluster-admin ServiceAccount's token. It returns the console's URL.
func (s *stack) startBridge(t *testing.T, consoleDir string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "console"}}
	s.apply(t, sa)
	s.apply(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "console-cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}})
	token, err := s.clientset.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](4 * 3600)}},
		metav1.CreateOptions{})
	require.NoError(t, err)

	listen := "127.0.0.1:" + freePort(t, "127.0.0.1")
	// The bridge reads pkg/graphql/schema.graphql relative to its working directory: the console's root.
	s.startIn(t, consoleDir, "console-bridge", filepath.Join(consoleDir, "bin", "bridge"),
		"-listen=http://"+listen, "-public-dir="+filepath.Join(consoleDir, "frontend", "public", "dist"),
		"-user-auth=disabled", "-k8s-mode=off-cluster", "-k8s-mode-off-cluster-endpoint="+s.env.Config.Host,
		"-k8s-mode-off-cluster-skip-verify-tls=true", "-k8s-auth-bearer-token="+token.Status.Token,
		"-user-settings-location=localstorage")
	url := "http://" + listen
	waitFor(t, time.Minute, "the console's bridge answering", func() (bool, string) {
		res, err := http.Get(url + "/health")
		if err != nil {
			return false, err.Error()
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK, res.Status
	})
	return url
}

// checkConsoleInstall checks that the console's Install made a Subscription to our package from our
// CatalogSource, in the CSV's suggested namespace, and that the CSV it led to Succeeded.
func (s *stack) checkConsoleInstall(t *testing.T) {
	subs := &unstructured.UnstructuredList{}
	subs.SetGroupVersionKind(olmObject("SubscriptionList").GroupVersionKind())
	require.NoError(t, s.k8s.List(context.Background(), subs, client.InNamespace(consoleNamespace)))
	require.Len(t, subs.Items, 1, "Subscriptions in %s", consoleNamespace)
	for field, want := range map[string]string{"name": packageName, "source": catalogSourceName,
		"sourceNamespace": olmNamespace} {
		got, _, _ := unstructured.NestedString(subs.Items[0].Object, "spec", field)
		assert.Equal(t, want, got, "the Subscription's spec.%s", field)
	}
	s.waitForCSVIn(t, consoleNamespace, csvName(currentVersion), "Succeeded")
}

// checkConsoleSync checks the ConfigMapSync the form created and its copies: the form's two keys only, in both
// namespaces it named.
func (s *stack) checkConsoleSync(t *testing.T) {
	ctx := context.Background()
	cms := &syncv1.ConfigMapSync{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: consoleSourceNS, Name: consoleSyncName}, cms))
	assert.Equal(t, syncv1.SyncStrategyManual, cms.Spec.SyncStrategy)
	assert.Equal(t, consoleDestinations, cms.Spec.Destination.Namespaces)
	var keys []string
	for _, k := range cms.Spec.Source.Keys {
		keys = append(keys, k.Key)
	}
	assert.Equal(t, consoleKeys, keys)
	for _, ns := range consoleDestinations {
		cm := &corev1.ConfigMap{}
		require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: consoleSyncName}, cm), "copy in %s", ns)
		assert.Equal(t, map[string]string{"region": "eu-west", "log-level": "debug"}, cm.Data, "copy in %s", ns)
	}
}

// checkConsoleSecret checks the ManagedSecret the form created, with each key reduced to the member its type names
// although the form wrote every generator's defaults, and the Secret it generated.
func (s *stack) checkConsoleSecret(t *testing.T) {
	ctx := context.Background()
	ms := &syncv1.ManagedSecret{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: consoleSourceNS, Name: consoleSecretName}, ms))
	require.Len(t, ms.Spec.Keys, 3)
	literal := consoleLiteral
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "username", Type: syncv1.KeyTypeLiteral, Literal: &literal}, ms.Spec.Keys[0])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "password", Type: syncv1.KeyTypeRandom,
		Random: &syncv1.RandomStringGenerator{Length: 40, Alphabet: syncv1.AlphabetAlphanumeric}}, ms.Spec.Keys[1])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "api-key", Type: syncv1.KeyTypeUUID, UUID: &syncv1.UUIDGenerator{}}, ms.Spec.Keys[2])
	assert.Equal(t, "24h", ms.Spec.RotationInterval)
	secret := &corev1.Secret{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: consoleSourceNS, Name: ms.Status.SecretName}, secret))
	assert.ElementsMatch(t, []string{"api-key", "password", "username"}, slices.Collect(maps.Keys(secret.Data)))
	assert.Len(t, secret.Data["password"], 40)
	assert.Equal(t, consoleLiteral, string(secret.Data["username"]))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, string(secret.Data["api-key"]))
}
