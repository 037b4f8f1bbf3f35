package images

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// operatorNamespace is where the test installs the operator's ServiceAccount and namespaced permissions, as OLM
// would in the namespace of the Subscription.
const operatorNamespace = "configmapsync-system"

// TestTheOperatorImageRunsAsTheCSVSays runs the operator image's root filesystem with runc, configured from the
// CSV's Deployment exactly where a kubelet would take it from: the container's args and env, its security context
// (the image's numeric user, a read-only root filesystem, no capabilities, no privilege escalation) and its memory
// and CPU limits as a cgroup. It talks to a real API server through in-cluster config (a ServiceAccount token with
// only the CSV's permissions, ca.crt and namespace file mounted where the kubelet mounts them) and serves its
// webhooks with a certificate mounted at the path OLM mounts it. The test sees it become ready, answer the API
// server's admission calls, and copy a ConfigMap: the image runs, not a host binary.
//
// Differences from a pod, on purpose: the container shares the machine's network namespace (like a hostNetwork
// pod), so its ports are moved to free ones by flags appended after the CSV's args; the seccomp profile
// (RuntimeDefault in the CSV) is the runtime's business and is not applied here.
func TestTheOperatorImageRunsAsTheCSVSays(t *testing.T) {
	runc := lookRunc(t)

	install := csvInstall(t)
	require.Len(t, install.DeploymentSpecs, 1)
	pod := install.DeploymentSpecs[0].Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	container := pod.Containers[0]
	require.True(t, *pod.SecurityContext.RunAsNonRoot)

	img, err := ociimage.Operator(amd64, staticManager(t), nil)
	require.NoError(t, err)
	pulled := pushAndPull(t, startRegistry(t), "configmapsync-operator", img)
	cfg, err := pulled.ConfigFile()
	require.NoError(t, err)

	env, err := harness.Start(harness.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	installServiceAccount(t, env, install, pod.ServiceAccountName)

	healthPort, metricsPort := freePort(t), freePort(t)
	wh := env.WebhookInstallOptions
	moved := []string{
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(healthPort),
		"--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort),
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
		"--leader-election-lease-duration=4s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=1s",
	}
	apiServer, err := url.Parse(env.Config.Host)
	require.NoError(t, err)
	mounts := map[string]string{
		"/var/run/secrets/kubernetes.io/serviceaccount": serviceAccountFiles(t, env, pod.ServiceAccountName),
		"/tmp/k8s-webhook-server/serving-certs":         secretVolume(t, filesIn(t, wh.LocalServingCertDir, "tls.crt", "tls.key")),
	}
	pod.HostNetwork = true // See above.
	c := startContainer(t, runc, containerSpec(t, runc, podContainer{
		Rootfs: unpack(t, pulled), Image: cfg.Config, Pod: pod, Namespace: operatorNamespace,
		ExtraArgs: moved, Mounts: mounts,
		ExtraEnv: []string{"KUBERNETES_SERVICE_HOST=" + apiServer.Hostname(), "KUBERNETES_SERVICE_PORT=" + apiServer.Port()},
	}))

	require.Eventually(t, func() bool { return c.exited() || probe(healthPort, "/readyz") }, harness.WaitFor, harness.Tick,
		"the operator in the container becomes ready")
	require.False(t, c.exited(), "the container exited:\n%s", c.output())

	t.Run("under the CSV's security context and limits", func(t *testing.T) {
		status := c.procFile(t, "status")
		assert.Regexp(t, `(?m)^Uid:\s+65532\s+65532\s+65532\s+65532$`, status, "the image's numeric non-root user")
		assert.Regexp(t, `(?m)^CapEff:\s+0+$`, status, "no capabilities")
		assert.Regexp(t, `(?m)^CapPrm:\s+0+$`, status)
		assert.Regexp(t, `(?m)^NoNewPrivs:\s+1$`, status, "allowPrivilegeEscalation: false")
		assert.Regexp(t, `(?m)^\S+ \S+ \S+ \S+ / ro[,\s]`, c.procFile(t, "mountinfo"), "a read-only root filesystem")
		assert.Equal(t, container.Resources.Limits.Memory().Value(), c.memoryLimit(t), "the CSV's memory limit")
	})

	t.Run("answers admission and copies a ConfigMap", func(t *testing.T) {
		k8s := env.Client
		src, dst := harness.NewNamespace(t, k8s, "src"), harness.NewNamespace(t, k8s, "dst")
		harness.Create(t, k8s, harness.ConfigMap(src, "settings", map[string]string{"mode": "image"}))
		bad := &syncv1.ConfigMapSync{
			ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "bad"},
			Spec: syncv1.ConfigMapSyncSpec{
				Source:        syncv1.SourceReference{Name: "settings"},
				Destination:   syncv1.Destination{Namespaces: []string{dst}},
				SyncFrequency: "never",
			},
		}
		err := k8s.Create(context.Background(), bad)
		require.Error(t, err, "the container's webhook rejects an invalid spec")
		assert.Contains(t, err.Error(), "spec.syncFrequency")

		cms := bad.DeepCopy()
		cms.Name, cms.Spec.SyncFrequency = "settings", ""
		harness.Create(t, k8s, cms)
		harness.Eventually(t, k8s, harness.ConfigMap(dst, "settings", nil), func(collect *assert.CollectT, cm *corev1.ConfigMap) {
			assert.Equal(collect, "image", cm.Data["mode"])
		})
		harness.Ready(t, k8s, cms)
	})
	require.False(t, c.exited(), "the container exited:\n%s", c.output())
}

// csvInstall returns the install strategy of the bundle's CSV: the Deployment OLM creates and the permissions it
// grants to the Deployment's ServiceAccount.
func csvInstall(t *testing.T) operatorsv1alpha1.StrategyDetailsDeployment {
	t.Helper()
	return readCSV(t, harness.Path("bundle")).Spec.InstallStrategy.StrategySpec
}

// installServiceAccount creates the operator's ServiceAccount in operatorNamespace with exactly the CSV's
// permissions, as OLM does: cluster permissions as ClusterRoles, namespaced ones as Roles in operatorNamespace, each
// bound to the account its entry names (the operator's, or another such as the metrics scraper's, which OLM
// creates too). The operator's account must have some.
func installServiceAccount(t *testing.T, env *harness.Env, install operatorsv1alpha1.StrategyDetailsDeployment, account string) {
	t.Helper()
	objects := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}}
	accounts := map[string]bool{}
	bind := func(name, serviceAccount string, rules []rbacv1.PolicyRule, cluster bool) {
		if !accounts[serviceAccount] {
			accounts[serviceAccount] = true
			objects = append(objects, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: serviceAccount}})
		}
		subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: operatorNamespace, Name: serviceAccount}}
		if cluster {
			objects = append(objects, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules},
				&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
					RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
			return
		}
		meta := metav1.ObjectMeta{Namespace: operatorNamespace, Name: name}
		objects = append(objects, &rbacv1.Role{ObjectMeta: meta, Rules: rules},
			&rbacv1.RoleBinding{ObjectMeta: meta, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	}
	for i, p := range install.ClusterPermissions {
		bind(fmt.Sprintf("%s-cluster-%d", p.ServiceAccountName, i), p.ServiceAccountName, p.Rules, true)
	}
	for i, p := range install.Permissions {
		bind(fmt.Sprintf("%s-%d", p.ServiceAccountName, i), p.ServiceAccountName, p.Rules, false)
	}
	require.True(t, accounts[account], "the CSV grants the Deployment's account %s nothing", account)
	for _, obj := range objects {
		harness.Create(t, env.Client, obj)
	}
}

// serviceAccountFiles writes what the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount: a token
// of the ServiceAccount (TokenRequest), the API server's CA and the namespace. It returns the folder.
func serviceAccountFiles(t *testing.T, env *harness.Env, account string) string {
	t.Helper()
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: account}}
	require.NoError(t, env.Client.SubResource("token").Create(context.Background(), sa, request))
	return secretVolume(t, map[string][]byte{"token": []byte(request.Status.Token), "ca.crt": env.Config.CAData,
		"namespace": []byte(operatorNamespace)})
}

// secretVolume writes files into a new folder the way the kubelet fills a secret or projected volume: mode 0644
// (the default mode), so the container's non-root user can read them. It returns the folder.
func secretVolume(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), content, 0o644))
	}
	return dir
}

// filesIn reads the named files of dir.
func filesIn(t *testing.T, dir string, names ...string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, name := range names {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		files[name] = raw
	}
	return files
}
