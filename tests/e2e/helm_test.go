//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/internal/ownership"
)

const (
	// helmRelease and helmNamespace are the release and namespace the docs install the chart as.
	helmRelease   = "configmapsync-operator"
	helmNamespace = "configmapsync-operator-system"
	// operatorImage is the operator image of this version (the Makefile's IMG), served by the local registry.
	operatorImage = "quay.io/configmapsync/configmapsync-operator:v" + currentVersion
)

// TestHelmInstallUseUpgradeUninstall installs the chart (charts/configmapsync-operator) with its own webhook
// certificate on a cluster without OLM or cert-manager, as the docs say; uses the operator in both API versions;
// upgrades the release to the same image by digest, another log level and crds.keep=false; and uninstalls it, checking
// that nothing the chart made is left. The lane sets crds.keep=false on upgrade so that `helm uninstall` removes the
// CRDs too: with the default (true) they stay, which tests/chart checks by their annotation.
func TestHelmInstallUseUpgradeUninstall(t *testing.T) {
	s := startCluster(t, false)
	r := newPods(s, helmNamespace)
	ctx := context.Background()

	installed := time.Now()
	s.helm(t, "install", helmRelease, chartPath(), "--namespace", helmNamespace, "--create-namespace", "--wait", "--timeout", "3m")
	s.waitForReplicas(t, r, 2)
	report(t, "helm install to 2 ready replicas with a leader: %s", time.Since(installed).Round(time.Second))
	manifest := s.releaseObjects(t)
	for _, obj := range manifest {
		got := s.get(t, obj)
		require.NotNil(t, got, "%s %s was installed", obj.GetKind(), obj.GetName())
		assert.Equal(t, helmRelease, got.GetLabels()["app.kubernetes.io/instance"], "%s %s", obj.GetKind(), obj.GetName())
	}
	cert := s.webhookCertificate(t)

	t.Run("copies follow their source; the conversion webhook answers", func(t *testing.T) { s.useTheChartsOperator(t, "helm-install") })

	upgraded := time.Now()
	digest := s.digests[operatorImage]
	require.NotEmpty(t, digest, "the registry serves %s", operatorImage)
	before := r.running()
	s.helm(t, "upgrade", helmRelease, chartPath(), "--namespace", helmNamespace, "--wait", "--timeout", "3m",
		"--set", "logLevel=debug,crds.keep=false,image.digest="+digest)
	waitFor(t, 2*time.Minute, "the upgraded pods to replace the installed ones", func() (bool, string) {
		now := r.running()
		for _, pod := range now {
			if slices.Contains(before, pod) {
				return false, "still running: " + pod
			}
		}
		return len(now) == 2, fmt.Sprint(now)
	})
	s.waitForReplicas(t, r, 2)
	report(t, "helm upgrade to 2 ready replicas of the new revision with a leader: %s", time.Since(upgraded).Round(time.Second))
	t.Run("the upgrade keeps the webhook certificate and runs what it says", func(t *testing.T) {
		assert.Equal(t, cert, s.webhookCertificate(t), "the Secret and the CRD's caBundle are the installed ones")
		for _, name := range r.running() {
			pod := &corev1.Pod{}
			require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: name}, pod))
			manager := pod.Spec.Containers[0]
			assert.Equal(t, "quay.io/configmapsync/configmapsync-operator@"+digest, manager.Image)
			assert.Contains(t, manager.Args, "--zap-log-level=debug")
		}
	})
	t.Run("copies made before the upgrade follow their source after it", func(t *testing.T) {
		update := map[string]string{"color": "green", "upgraded": "true"}
		require.NoError(t, s.k8s.Update(ctx, configMap("helm-install", "settings", update)))
		s.waitForCopies(t, "ConfigMap", "settings", []string{"helm-install-a", "helm-install-b"}, update)
		s.useTheChartsOperator(t, "helm-upgrade")
	})
	t.Run("the new log level is in force", func(t *testing.T) {
		// A destination that does not exist is logged at debug level only.
		require.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "helm-upgrade", Name: "nowhere"},
			Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "settings"},
				Destination: syncv1.Destination{Namespaces: []string{"helm-absent"}}}}))
		waitFor(t, time.Minute, "a debug line in the leader's log", func() (bool, string) {
			leader, _ := s.leaderIn(t, helmNamespace)
			return leader != "" && strings.Contains(r.log(leader), "Listed destination namespaces do not exist"), "leader " + leader
		})
	})

	t.Run("uninstall leaves nothing behind", func(t *testing.T) { s.helmUninstall(t, r, s.releaseObjects(t)) })
}

// chartPath is the chart in this checkout.
func chartPath() string { return filepath.Join(repoRoot, "charts", "configmapsync-operator") }

// helm runs the helm binary (HELM, built by the Makefile) against the cluster, and returns its output.
func (s *stack) helm(t *testing.T, args ...string) string {
	t.Helper()
	binary := os.Getenv("HELM")
	require.NotEmpty(t, binary, "HELM is not set; run `make test-e2e`")
	cmd := exec.Command(binary, args...)
	home := filepath.Join(s.logs, "helm")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home,
		"HELM_DATA_HOME="+home)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "helm %s: %s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	return stdout.String()
}

// releaseObjects returns the objects of the release's current revision, as `helm get manifest` lists them.
func (s *stack) releaseObjects(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs := objects(t, []byte(s.helm(t, "get", "manifest", helmRelease, "--namespace", helmNamespace)))
	require.NotEmpty(t, objs)
	return objs
}

// get reads obj's current state from the cluster (nil when it does not exist).
func (s *stack) get(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(obj.GroupVersionKind())
	err := s.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), got)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err, "%s %s", obj.GetKind(), obj.GetName())
	return got
}

// webhookCertificate returns the chart's webhook Secret's data and the caBundle of the ConfigMapSync CRD's
// conversion webhook.
func (s *stack) webhookCertificate(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: "webhook-server-cert"}, secret))
	out := map[string]string{}
	for k, v := range secret.Data {
		out[k] = string(v)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd))
	out["conversion caBundle"] = string(crd.Spec.Conversion.Webhook.ClientConfig.CABundle)
	assert.Equal(t, out["ca.crt"], out["conversion caBundle"], "the CRD trusts the Secret's CA")
	return out
}

// useTheChartsOperator copies a ConfigMap of namespace prefix into prefix-a and prefix-b with a v1 ConfigMapSync,
// and into prefix-a under another name with a v1beta1 one, which the API server stores as v1 through the conversion
// webhook; both read back in the other version.
func (s *stack) useTheChartsOperator(t *testing.T, prefix string) {
	t.Helper()
	ctx := context.Background()
	destinations := []string{prefix + "-a", prefix + "-b"}
	s.namespaces(t, append([]string{prefix}, destinations...)...)
	data := map[string]string{"color": "blue"}
	s.apply(t, configMap(prefix, "settings", data))
	s.apply(t, configMap(prefix, "legacy", data))
	require.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: prefix, Name: "settings"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "settings"},
			Destination: syncv1.Destination{Namespaces: destinations}}}))
	took := s.waitForCopies(t, "ConfigMap", "settings", destinations, data)
	report(t, "%s: first copies after creating a v1 ConfigMapSync: %s", prefix, took.Round(100*time.Millisecond))
	s.waitReady(t, prefix, "settings")

	beta := &syncv1beta1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: prefix, Name: "legacy"},
		Spec: syncv1beta1.ConfigMapSyncSpec{SourceNamespace: prefix, DestinationNamespace: destinations[0], ConfigMapName: "legacy"}}
	require.NoError(t, s.k8s.Create(ctx, beta), "a v1beta1 object is converted to v1 (the storage version) by the webhook")
	s.waitForCopies(t, "ConfigMap", "legacy", destinations[:1], data)
	v1 := s.waitReady(t, prefix, "legacy")
	assert.Equal(t, "legacy", v1.Spec.Source.Name, "read as v1")
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: prefix, Name: "settings"}, &syncv1beta1.ConfigMapSync{}),
		"a v1 object read as v1beta1")
}

// helmUninstall deletes every ConfigMapSync while the operator runs, uninstalls the release, and checks that no
// object of the release's manifest is left, nor a pod or process of the operator; then deletes the namespace, which
// holds what the operator made at run time (its ownership key and Lease), and waits until it is gone.
func (s *stack) helmUninstall(t *testing.T, r *pods, manifest []*unstructured.Unstructured) {
	ctx := context.Background()
	for _, ns := range []string{"helm-install", "helm-upgrade"} {
		require.NoError(t, s.k8s.DeleteAllOf(ctx, &syncv1.ConfigMapSync{}, client.InNamespace(ns)))
	}
	waitFor(t, time.Minute, "the ConfigMapSyncs to go", func() (bool, string) {
		list := &syncv1.ConfigMapSyncList{}
		err := s.k8s.List(ctx, list)
		return err == nil && len(list.Items) == 0, fmt.Sprintf("%d left, %v", len(list.Items), err)
	})
	s.waitForCopies(t, "ConfigMap", "settings", []string{"helm-install-a", "helm-install-b", "helm-upgrade-a", "helm-upgrade-b"}, nil)
	s.waitForCopies(t, "ConfigMap", "legacy", []string{"helm-install-a", "helm-upgrade-a"}, nil)

	uninstalled := time.Now()
	s.helm(t, "uninstall", helmRelease, "--namespace", helmNamespace, "--wait", "--timeout", "3m")
	waitFor(t, 2*time.Minute, "every object of the release to be gone", func() (bool, string) {
		for _, obj := range manifest {
			if s.get(t, obj) != nil {
				return false, obj.GetKind() + " " + obj.GetName() + " is left"
			}
		}
		if n := len(managerProcesses("kubepods")); n > 0 {
			return false, fmt.Sprintf("%d manager processes on the node", n)
		}
		pods := &corev1.PodList{}
		if err := s.k8s.List(ctx, pods, client.InNamespace(helmNamespace)); err != nil || len(pods.Items) > 0 {
			return false, fmt.Sprintf("%d pods", len(pods.Items))
		}
		return true, ""
	})
	report(t, "helm uninstall to nothing of the release left: %s", time.Since(uninstalled).Round(time.Second))
	// Nothing of any kind the chart makes carries the release's label any more, anywhere in the cluster.
	kinds := map[string]bool{}
	for _, obj := range manifest {
		if kinds[obj.GetKind()] {
			continue
		}
		kinds[obj.GetKind()] = true
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(obj.GroupVersionKind().GroupVersion().WithKind(obj.GetKind() + "List"))
		require.NoError(t, s.k8s.List(ctx, list, client.MatchingLabels{"app.kubernetes.io/instance": helmRelease}))
		assert.Empty(t, list.Items, "%s labelled as the release's", obj.GetKind())
	}
	assert.True(t, kinds["CustomResourceDefinition"] && kinds["ValidatingWebhookConfiguration"] && kinds["ClusterRole"] &&
		kinds["Deployment"] && kinds["Secret"], "the manifest lists every kind the chart makes: %v", kinds)
	assert.Empty(t, r.running())

	// What the operator made itself: its ownership key (the user guide says to delete it, or the namespace).
	key := &corev1.Secret{}
	assert.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: helmNamespace, Name: ownership.SecretName}, key))
	require.NoError(t, s.k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: helmNamespace}}))
	waitFor(t, 2*time.Minute, "namespace "+helmNamespace+" to be gone", func() (bool, string) {
		err := s.k8s.Get(ctx, client.ObjectKey{Name: helmNamespace}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
