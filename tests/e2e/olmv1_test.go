//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
)

const (
	// olmv1Namespace is where OLM v1's release manifests run operator-controller and catalogd.
	olmv1Namespace = "olmv1-system"
	// certManagerNamespace is where cert-manager runs, as its chart's docs install it.
	certManagerNamespace = "cert-manager"
	// extensionName, extensionNamespace and catalogName are what the user guide's OLM v1 install names. The
	// namespace is short: OLM v1 asks cert-manager for a certificate whose common name is
	// "<deployment>-service.<namespace>", which cert-manager refuses over 64 bytes (tests/bundle checks it).
	extensionName      = "configmapsync-operator"
	extensionNamespace = "configmapsync"
	catalogName        = "configmapsync-catalog"
	// installerServiceAccount is config/olmv1/installer-rbac.yaml's ServiceAccount.
	installerServiceAccount = "configmapsync-operator-installer"
	// The images of OLM v1 (as its release manifests name them) and cert-manager (as its chart names them).
	catalogdImage           = "quay.io/operator-framework/catalogd:devel"
	operatorControllerImage = "quay.io/operator-framework/operator-controller:devel"
	certManagerVersion      = "v1.21.1"
	olmv1Version            = "v1.11.0"
	// kubernetesVersion is the control plane's, for helm template (which assumes v1.20 without a cluster).
	kubernetesVersion = "v1.37.2"
)

// TestOLMv1InstallUpgradeRemove installs the operator as OLM v1 does: cert-manager and OLM v1 (operator-controller,
// catalogd) run as pods on the node from images built here from their sources; our catalog image is served as a
// ClusterCatalog; a ClusterExtension installs the previous release, then is upgraded to this one by its version, and
// removed. Each step checks what the OLM v0 lane checks: two ready replicas with a leader, the admission and
// conversion webhooks answering with cert-manager's certificates, copies in both API versions, a leader's pod
// deleted, no copy lost through the upgrade, nothing left after removal.
func TestOLMv1InstallUpgradeRemove(t *testing.T) {
	ctx := context.Background()
	s := startCluster(t, true) // The Prometheus Operator's CRDs: 0.2.0's bundle carries a ServiceMonitor.
	began := time.Now()
	s.installCertManager(t)
	report(t, "OLM v1: cert-manager ready: %s", time.Since(began).Round(time.Second))
	began = time.Now()
	s.installOLMv1(t)
	report(t, "OLM v1: operator-controller and catalogd ready: %s", time.Since(began).Round(time.Second))

	began = time.Now()
	s.apply(t, clusterCatalog(s.catalogImage))
	s.waitForCondition(t, olmv1Object("ClusterCatalog", catalogName), "Serving", "True")
	report(t, "OLM v1: ClusterCatalog to Serving: %s", time.Since(began).Round(time.Second))

	previous := releasedVersions[len(releasedVersions)-1]
	r := newPods(s, extensionNamespace)
	s.namespaces(t, extensionNamespace)
	// As the user guide does. operator-controller v1.11.0 ignores spec.serviceAccount (it warns) and installs with
	// its own rights; tests/olmv1rbac proves these rights are enough and each needed.
	for _, obj := range installerRBAC(t) {
		s.apply(t, obj)
	}
	began = time.Now()
	s.apply(t, clusterExtension(previous))
	s.waitForExtension(t, previous)
	report(t, "OLM v1: ClusterExtension %s to Installed: %s", previous, time.Since(began).Round(time.Second))
	s.waitForReplicas(t, r, 2)
	report(t, "OLM v1: ClusterExtension %s to 2 ready replicas with a leader: %s", previous, time.Since(began).Round(time.Second))
	s.waitForWebhookRoutes(t)
	t.Run("the webhooks answer with cert-manager's certificate; copies follow their source", func(t *testing.T) {
		s.checkCertManagerWiring(t)
		s.useTheChartsOperator(t, "olmv1-install")
	})

	uids := map[string]string{}
	for _, ns := range []string{"olmv1-install-a", "olmv1-install-b"} {
		_, uid, ok := s.copyOf("ConfigMap", ns, "settings")
		require.True(t, ok)
		uids[ns] = uid
	}
	watch := s.watchCopiesAcross("settings", uids)
	before := r.running()
	began = time.Now()
	extension := olmv1Object("ClusterExtension", extensionName)
	require.NoError(t, s.k8s.Patch(ctx, extension, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"source":{"catalog":{"version":"`+currentVersion+`"}}}}`))))
	s.waitForExtension(t, currentVersion)
	report(t, "OLM v1: upgrade %s → %s to Installed: %s", previous, currentVersion, time.Since(began).Round(time.Second))
	waitFor(t, 2*time.Minute, "the upgraded pods to replace the installed ones", func() (bool, string) {
		now := r.running()
		return !slices.ContainsFunc(now, func(pod string) bool { return slices.Contains(before, pod) }) && len(now) == 2, fmt.Sprint(now)
	})
	s.waitForReplicas(t, r, 2)
	report(t, "OLM v1: upgrade to 2 ready replicas of %s with a leader: %s", currentVersion, time.Since(began).Round(time.Second))
	s.waitForWebhookRoutes(t)
	t.Run("the upgrade migrates stored versions and loses no copy", func(t *testing.T) {
		waitFor(t, 2*time.Minute, "storedVersions == [v1]", func() (bool, string) {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd); err != nil {
				return false, err.Error()
			}
			return fmt.Sprint(crd.Status.StoredVersions) == "[v1]", fmt.Sprint(crd.Status.StoredVersions)
		})
		update := map[string]string{"color": "green", "upgraded": "true"}
		require.NoError(t, s.k8s.Update(ctx, configMap("olmv1-install", "settings", update)))
		s.waitForCopies(t, "ConfigMap", "settings", []string{"olmv1-install-a", "olmv1-install-b"}, update)
		assert.Empty(t, watch(), "copies missing or re-created during the upgrade")
		s.checkCertManagerWiring(t)
		s.useTheChartsOperator(t, "olmv1-upgrade")
	})
	t.Run("OLM v1 made the ClusterRoles the installer's RBAC names", func(t *testing.T) { s.checkInstallerRoleNames(t) })
	t.Run("a deleted leader pod is replaced and the other replica syncs", func(t *testing.T) { s.leaderPodDeleted(t, r) })

	t.Run("removal leaves nothing behind", func(t *testing.T) { s.removeExtension(t, r) })
}

// olmv1Images returns the images of OLM v1 and cert-manager as their Containerfiles make them (a static binary, a
// non-root user), from the binaries the Makefile built from their sources (OLMV1_BINARIES, CERT_MANAGER_BINARIES).
// OLM v1's pull catalog and bundle images themselves: theirs carry a registries.conf sending quay.io to the suite's
// registry (plain HTTP), as a disconnected cluster's mirror configuration would.
func olmv1Images(t *testing.T, registry string) map[string]any {
	t.Helper()
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	mirror := fmt.Appendf(nil, "[[registry]]\nprefix = \"quay.io\"\nlocation = %q\ninsecure = true\n", registry)
	image := func(binary, path string, extra ...ociimage.File) v1.Image {
		files := append([]ociimage.File{{Path: path, Source: binary, Mode: 0o755}}, extra...)
		img, err := ociimage.Image(ociimage.Spec{Platform: amd64, User: "65532:65532", WorkingDir: "/",
			Entrypoint: []string{path}, Files: files})
		if err != nil {
			t.Fatalf("image of %s: %v", binary, err)
		}
		return img
	}
	olmv1 := os.Getenv("OLMV1_BINARIES")
	certManager := os.Getenv("CERT_MANAGER_BINARIES")
	if olmv1 == "" || certManager == "" {
		t.Fatal("OLMV1_BINARIES and CERT_MANAGER_BINARIES are not set; run `make test-e2e`")
	}
	registriesConf := ociimage.File{Path: "/etc/containers/registries.conf", Data: mirror, Mode: 0o644}
	images := map[string]any{
		catalogdImage:           image(filepath.Join(olmv1, "catalogd"), "/catalogd", registriesConf),
		operatorControllerImage: image(filepath.Join(olmv1, "operator-controller"), "/operator-controller", registriesConf),
	}
	for _, component := range []string{"controller", "webhook", "cainjector"} {
		images["quay.io/jetstack/cert-manager-"+component+":"+certManagerVersion] =
			image(filepath.Join(certManager, component), "/app/cmd/"+component+"/"+component)
	}
	return images
}

// installCertManager installs cert-manager from its chart (CERT_MANAGER_SRC), CRDs included, as its docs' Helm
// install does, with the images built here; it returns once its webhook admits a Certificate.
func (s *stack) installCertManager(t *testing.T) {
	t.Helper()
	chart := filepath.Join(os.Getenv("CERT_MANAGER_SRC"), "deploy", "charts", "cert-manager")
	components := []string{"image", "webhook.image", "cainjector.image", "acmesolver.image"}
	values := make([]string, 0, 2+len(components))
	values = append(values, "crds.enabled=true", "startupapicheck.enabled=false")
	for _, component := range components {
		values = append(values, component+".tag="+certManagerVersion)
	}
	rendered := s.helm(t, "template", "cert-manager", chart, "--namespace", certManagerNamespace,
		"--kube-version", kubernetesVersion, "--set", strings.Join(values, ","))
	s.namespaces(t, certManagerNamespace)
	for _, obj := range objects(t, []byte(rendered)) {
		s.apply(t, obj)
	}
	for _, name := range []string{"cert-manager", "cert-manager-webhook", "cert-manager-cainjector"} {
		s.waitForDeployment(t, certManagerNamespace, name)
	}
	issuer := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1", "kind": "Issuer",
		"metadata": map[string]any{"name": "e2e-probe", "namespace": certManagerNamespace},
		"spec":     map[string]any{"selfSigned": map[string]any{}},
	}}
	waitFor(t, 2*time.Minute, "cert-manager's webhook to admit an Issuer", func() (bool, string) {
		err := s.k8s.Create(context.Background(), issuer.DeepCopy(), client.DryRunAll)
		return err == nil, fmt.Sprint(err)
	})
}

// installOLMv1 installs OLM v1 from its release manifests (manifests/standard.yaml in OLMV1_SRC, with cert-manager),
// as its install script does, and waits for operator-controller and catalogd. They run on control-plane nodes:
// the node is labelled as one.
func (s *stack) installOLMv1(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}`)
	require.NoError(t, s.k8s.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}},
		client.RawPatch(types.MergePatchType, patch)))
	raw, err := os.ReadFile(filepath.Join(os.Getenv("OLMV1_SRC"), "manifests", "standard.yaml"))
	if err != nil {
		t.Fatalf("OLM v1's release manifests (OLMV1_SRC=%q): %v", os.Getenv("OLMV1_SRC"), err)
	}
	// What OLM v1's release does to the manifests it ships (its Makefile's release target).
	raw = []byte(strings.ReplaceAll(string(raw), "cert-git-version", "cert-"+olmv1Version))
	for _, obj := range objects(t, raw) {
		s.apply(t, obj)
	}
	s.waitForDeployment(t, olmv1Namespace, "catalogd-controller-manager")
	s.waitForDeployment(t, olmv1Namespace, "operator-controller-controller-manager")
}

// olmv1Object returns an empty OLM v1 object of kind named name, to read into.
func olmv1Object(kind, name string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion("olm.operatorframework.io/v1")
	obj.SetKind(kind)
	obj.SetName(name)
	return obj
}

// clusterCatalog is the ClusterCatalog of the user guide: our catalog image.
func clusterCatalog(image string) *unstructured.Unstructured {
	obj := olmv1Object("ClusterCatalog", catalogName)
	obj.Object["spec"] = map[string]any{"source": map[string]any{"type": "Image", "image": map[string]any{"ref": image}}}
	return obj
}

// clusterExtension is the ClusterExtension of the user guide, installing version of the package from our catalog.
func clusterExtension(version string) *unstructured.Unstructured {
	obj := olmv1Object("ClusterExtension", extensionName)
	obj.Object["spec"] = map[string]any{
		"namespace":      extensionNamespace,
		"serviceAccount": map[string]any{"name": installerServiceAccount},
		"source": map[string]any{"sourceType": "Catalog", "catalog": map[string]any{
			"packageName": packageName, "version": version,
			"selector": map[string]any{"matchLabels": map[string]any{"olm.operatorframework.io/metadata.name": catalogName}},
		}},
	}
	return obj
}

// waitForCondition waits until obj's condition of type has status.
func (s *stack) waitForCondition(t *testing.T, obj *unstructured.Unstructured, conditionType, status string) {
	t.Helper()
	waitFor(t, 3*time.Minute, obj.GetKind()+" "+obj.GetName()+" "+conditionType+"="+status, func() (bool, string) {
		if err := s.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		c := condition(obj, conditionType)
		return c != nil && string(c.Status) == status, fmt.Sprintf("%+v", c)
	})
}

// condition returns obj's status condition of type, or nil.
func condition(obj *unstructured.Unstructured, conditionType string) *metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	conditions := make([]metav1.Condition, 0, len(raw))
	for _, c := range raw {
		m, _ := c.(map[string]any)
		conditions = append(conditions, metav1.Condition{Type: fmt.Sprint(m["type"]), Status: metav1.ConditionStatus(fmt.Sprint(m["status"])),
			Reason: fmt.Sprint(m["reason"]), Message: fmt.Sprint(m["message"])})
	}
	return meta.FindStatusCondition(conditions, conditionType)
}

// waitForExtension waits until the ClusterExtension reports version installed.
func (s *stack) waitForExtension(t *testing.T, version string) {
	t.Helper()
	obj := olmv1Object("ClusterExtension", extensionName)
	waitFor(t, 4*time.Minute, "ClusterExtension "+extensionName+" to install "+version, func() (bool, string) {
		if err := s.k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err.Error()
		}
		installed, _, _ := unstructured.NestedString(obj.Object, "status", "install", "bundle", "version")
		c := condition(obj, "Installed")
		progressing := condition(obj, "Progressing")
		return installed == version && c != nil && c.Status == metav1.ConditionTrue,
			fmt.Sprintf("installed %q, Installed %+v, Progressing %+v", installed, c, progressing)
	})
}

// checkCertManagerWiring checks that the admission webhooks and the CRD's conversion webhook trust the CA of the
// Certificate OLM v1 asked cert-manager for (cert-manager's cainjector put it there), and that the operator's pods
// serve that Certificate's Secret.
func (s *stack) checkCertManagerWiring(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	list := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	require.NoError(t, s.k8s.List(ctx, list))
	var caBundle []byte
	var certificate string
	for _, config := range list.Items {
		for _, hook := range config.Webhooks {
			if strings.HasSuffix(hook.Name, ".sync.configmapsync.io") {
				caBundle, certificate = hook.ClientConfig.CABundle, config.Annotations["cert-manager.io/inject-ca-from"]
			}
		}
	}
	require.NotEmpty(t, caBundle, "the validating webhooks carry a CA bundle")
	namespace, name, ok := strings.Cut(certificate, "/")
	require.True(t, ok, "the webhook configuration names the Certificate cert-manager injects from: %q", certificate)
	cert := &unstructured.Unstructured{}
	cert.SetAPIVersion("cert-manager.io/v1")
	cert.SetKind("Certificate")
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cert))
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	secret := &corev1.Secret{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: secretName}, secret))
	assert.Equal(t, string(secret.Data["ca.crt"]), string(caBundle), "the webhooks trust the CA of cert-manager's Certificate")
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd))
	require.NotNil(t, crd.Spec.Conversion.Webhook, "the CRD converts through the webhook")
	assert.Equal(t, string(caBundle), string(crd.Spec.Conversion.Webhook.ClientConfig.CABundle), "so does the conversion webhook")
	deployment := &appsv1.Deployment{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: extensionNamespace, Name: deploymentName}, deployment))
	mounted := slices.ContainsFunc(deployment.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.Secret != nil && v.Secret.SecretName == secretName
	})
	assert.True(t, mounted, "the operator's pods mount the Secret %s", secretName)
}

// watchCopiesAcross is watchCopies for copies of name in several namespaces: uids maps each namespace to the copy's UID.
func (s *stack) watchCopiesAcross(name string, uids map[string]string) func() []string {
	watches := make([]func() []string, 0, len(uids))
	for ns, uid := range uids {
		watches = append(watches, s.watchCopies(ns, map[string]string{name: uid}))
	}
	return func() []string {
		problems := make([]string, 0, len(watches))
		for _, stop := range watches {
			problems = append(problems, stop()...)
		}
		return problems
	}
}

// leaderPodDeleted deletes the leader's pod while its source changes, and checks that the other replica takes over
// and syncs, and that the Deployment replaces the pod.
func (s *stack) leaderPodDeleted(t *testing.T, r *pods) {
	ctx := context.Background()
	s.namespaces(t, "olmv1-ha", "olmv1-ha-1")
	s.apply(t, configMap("olmv1-ha", "counter", map[string]string{"n": "0"}))
	require.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "olmv1-ha", Name: "counter"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "counter"},
			Destination: syncv1.Destination{Namespaces: []string{"olmv1-ha-1"}}}}))
	s.waitForCopies(t, "ConfigMap", "counter", []string{"olmv1-ha-1"}, map[string]string{"n": "0"})
	leader, _ := s.leaderIn(t, extensionNamespace)
	require.NotEmpty(t, leader)
	require.NoError(t, s.k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: extensionNamespace, Name: leader}}))
	require.NoError(t, s.k8s.Update(ctx, configMap("olmv1-ha", "counter", map[string]string{"n": "1"})))
	took := s.waitForCopies(t, "ConfigMap", "counter", []string{"olmv1-ha-1"}, map[string]string{"n": "1"})
	report(t, "OLM v1: leader pod deletion → next sync %s", took.Round(100*time.Millisecond))
	// The deleted leader may still make that sync before its container gets SIGTERM; then the other replica takes
	// the Lease it releases.
	waitFor(t, time.Minute, "the other replica leading", func() (bool, string) {
		now, _ := s.leaderIn(t, extensionNamespace)
		return now != "" && now != leader, "leader " + now
	})
	waitFor(t, 2*time.Minute, leader+" gone", func() (bool, string) { return !slices.Contains(r.running(), leader), "" })
	s.waitForReplicas(t, r, 2)
}

// removeExtension removes the operator as the user guide says: the ConfigMapSyncs first, while the operator runs
// (their copies go, then their finalizers), then the ClusterExtension; and checks that nothing of the operator is
// left: its Deployment, pods, Services, webhook configurations, CRDs and cluster-wide RBAC.
func (s *stack) removeExtension(t *testing.T, r *pods) {
	ctx := context.Background()
	for _, ns := range []string{"olmv1-install", "olmv1-upgrade", "olmv1-ha"} {
		require.NoError(t, s.k8s.DeleteAllOf(ctx, &syncv1.ConfigMapSync{}, client.InNamespace(ns)))
	}
	waitFor(t, time.Minute, "the ConfigMapSyncs to go", func() (bool, string) {
		list := &syncv1.ConfigMapSyncList{}
		err := s.k8s.List(ctx, list)
		return err == nil && len(list.Items) == 0, fmt.Sprintf("%d left, %v", len(list.Items), err)
	})
	s.waitForCopies(t, "ConfigMap", "settings", []string{"olmv1-install-a", "olmv1-install-b", "olmv1-upgrade-a", "olmv1-upgrade-b"}, nil)

	began := time.Now()
	require.NoError(t, s.k8s.Delete(ctx, olmv1Object("ClusterExtension", extensionName)))
	waitFor(t, 3*time.Minute, "the ClusterExtension to go", func() (bool, string) {
		err := s.k8s.Get(ctx, client.ObjectKey{Name: extensionName}, olmv1Object("ClusterExtension", extensionName))
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	// Then the installer's rights, which OLM v1 deleted with (the user guide's order).
	for _, obj := range installerRBAC(t) {
		if err := s.k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("deleting %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	waitFor(t, 3*time.Minute, "nothing of the operator to be left", func() (bool, string) {
		if left := s.operatorLeftovers(ctx); len(left) > 0 {
			return false, strings.Join(left, ", ")
		}
		return len(r.running()) == 0 && len(managerProcesses("kubepods")) == 0, fmt.Sprintf("pods %v", r.running())
	})
	report(t, "OLM v1: ClusterExtension deletion to nothing of the operator left: %s", time.Since(began).Round(time.Second))
}

// operatorLeftovers lists what of the operator's install is still in the cluster.
func (s *stack) operatorLeftovers(ctx context.Context) []string {
	var left []string
	exists := func(obj client.Object, key client.ObjectKey) {
		if err := s.k8s.Get(ctx, key, obj); err == nil {
			left = append(left, fmt.Sprintf("%T %s", obj, key))
		}
	}
	exists(&appsv1.Deployment{}, client.ObjectKey{Namespace: extensionNamespace, Name: deploymentName})
	exists(&corev1.Service{}, client.ObjectKey{Namespace: extensionNamespace, Name: deploymentName + "-service"})
	for _, crd := range []string{"configmapsyncs.sync.configmapsync.io", "managedsecrets.sync.configmapsync.io"} {
		exists(&apiextensionsv1.CustomResourceDefinition{}, client.ObjectKey{Name: crd})
	}
	for _, list := range []client.ObjectList{&admissionregistrationv1.ValidatingWebhookConfigurationList{},
		&admissionregistrationv1.MutatingWebhookConfigurationList{}} {
		if s.k8s.List(ctx, list) != nil {
			continue
		}
		_ = meta.EachListItem(list, func(item runtime.Object) error {
			if c, ok := item.(client.Object); ok && strings.Contains(c.GetName(), packageName) {
				left = append(left, fmt.Sprintf("%T %s", c, c.GetName()))
			}
			return nil
		})
	}
	roles := &unstructured.UnstructuredList{}
	roles.SetAPIVersion("rbac.authorization.k8s.io/v1")
	roles.SetKind("ClusterRoleList")
	if s.k8s.List(ctx, roles) == nil {
		for _, role := range roles.Items {
			if strings.HasPrefix(role.GetName(), packageName) {
				left = append(left, "ClusterRole "+role.GetName())
			}
		}
	}
	return left
}

// checkInstallerRoleNames checks config/olmv1/installer-rbac.yaml against what OLM v1 really did: the ClusterRoles it
// made of the CSV's permissions (named by a hash of each) are the ones the installer may update and delete. The file
// is generated from tests/harness/olmv1's rendering, not OLM v1's, so a release of OLM v1 that names them otherwise
// fails here.
func (s *stack) checkInstallerRoleNames(t *testing.T) {
	t.Helper()
	allowed := map[string]bool{}
	for _, obj := range installerRBAC(t) {
		if obj.GetKind() != "ClusterRole" {
			continue
		}
		role := &rbacv1.ClusterRole{}
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, role))
		for _, rule := range role.Rules {
			if slices.Contains(rule.Resources, "clusterroles") {
				for _, name := range rule.ResourceNames {
					allowed[name] = true
				}
			}
		}
	}
	want := 0
	for name := range allowed {
		if strings.HasPrefix(name, "configmapsync-oper-") {
			want++
		}
	}
	list := &rbacv1.ClusterRoleList{}
	require.NoError(t, s.k8s.List(context.Background(), list))
	made := 0
	for _, role := range list.Items {
		if strings.HasPrefix(role.Name, "configmapsync-oper-") {
			made++
			assert.True(t, allowed[role.Name], "OLM v1 made ClusterRole %s, which the installer's RBAC does not name", role.Name)
		}
	}
	assert.Equal(t, want, made, "one ClusterRole per permission of the CSV, as the installer's RBAC has")
}

// waitForWebhookRoutes waits until the API server's calls reach the new pods: a v1 and a v1beta1 ConfigMapSync
// created with dry run (admission and conversion webhooks) succeed three times in a row. A pod is ready before
// kube-proxy routes the webhook Service to it; until then the API server's calls are refused, on any cluster.
func (s *stack) waitForWebhookRoutes(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	probe := func(version string) error {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "sync.configmapsync.io/" + version, "kind": "ConfigMapSync",
			"metadata": map[string]any{"name": "e2e-webhook-probe", "namespace": extensionNamespace},
		}}
		spec := map[string]any{"source": map[string]any{"name": "e2e-absent"},
			"destination": map[string]any{"namespaces": []any{"default"}}}
		if version == "v1beta1" {
			spec = map[string]any{"sourceNamespace": extensionNamespace, "destinationNamespace": "default", "configMapName": "e2e-absent"}
		}
		obj.Object["spec"] = spec
		return s.k8s.Create(ctx, obj, client.DryRunAll)
	}
	answered := 0
	took := waitFor(t, 2*time.Minute, "the webhooks to answer through their Service", func() (bool, string) {
		for _, version := range []string{"v1", "v1beta1"} {
			if err := probe(version); err != nil {
				answered = 0
				return false, err.Error()
			}
		}
		answered++
		return answered >= 3, fmt.Sprintf("%d answers", answered)
	})
	report(t, "OLM v1: webhooks answering through their Service %s after the replicas were ready", took.Round(100*time.Millisecond))
}

// installerRBAC returns the objects of config/olmv1/installer-rbac.yaml, the installer's RBAC the user guide applies.
func installerRBAC(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "olmv1", "installer-rbac.yaml"))
	require.NoError(t, err)
	return objects(t, raw)
}
