//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

const (
	// olmNamespace is OLM's own namespace (its release manifests'), where the catalog's CatalogSource lives.
	olmNamespace = "olm"
	// operatorNamespace is where the global OperatorGroup lives and OLM installs the operator.
	operatorNamespace = "operators"
	// packageName is the OLM package of the operator.
	packageName = "configmapsync-operator"
	// deploymentName is the Deployment of the CSV (the same in every release).
	deploymentName = "configmapsync-operator-controller-manager"
	// bundleRepository is where catalog/ says the bundle images are.
	bundleRepository = "quay.io/configmapsync/configmapsync-operator-bundle"
	// leaseName is the leader-election Lease of the operator.
	leaseName = operator.LeaderElectionID
)

// csvName returns the name of the CSV of a release.
func csvName(version string) string { return packageName + ".v" + version }

// olmObject returns an empty OLM v1alpha1 object of kind.
func olmObject(kind string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("operators.coreos.com/v1alpha1")
	u.SetKind(kind)
	return u
}

// installOLM installs OLM from its release manifests (olm.yaml, rendered by hack/olm-release.sh) as its install.sh
// does, after crds.yaml (installed with the control plane), and waits for the olm and catalog operators and for
// packageserver. The OperatorHub.io CatalogSource is left out, as on a disconnected cluster: its image cannot be
// pulled here.
func (s *stack) installOLM(t *testing.T, release string) {
	t.Helper()
	// The operator's pods must pass the restricted Pod Security Standard (the API server enforces it); the
	// release creates this namespace without the label.
	s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}})
	raw, err := os.ReadFile(filepath.Join(release, "olm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects(t, raw) {
		if obj.GetKind() == "CatalogSource" {
			continue
		}
		s.apply(t, obj)
	}
	s.waitForDeployment(t, olmNamespace, "olm-operator")
	s.waitForDeployment(t, olmNamespace, "catalog-operator")
	s.waitForCSVIn(t, olmNamespace, "packageserver", "Succeeded")
	s.waitForDeployment(t, olmNamespace, "packageserver")
}

// applyFile creates the objects of a YAML file.
func (s *stack) applyFile(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range objects(t, raw) {
		s.apply(t, obj)
	}
}

// objects decodes a multi-document YAML stream.
func objects(t *testing.T, raw []byte) []*unstructured.Unstructured {
	t.Helper()
	out, err := manifests.Decode(raw)
	if err != nil {
		t.Fatalf("decoding manifests: %v", err)
	}
	return out
}

// waitForDeployment waits until every replica of a Deployment's current revision is available.
func (s *stack) waitForDeployment(t *testing.T, namespace, name string) {
	t.Helper()
	waitFor(t, 3*time.Minute, "Deployment "+namespace+"/"+name+" available", func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return false, err.Error()
		}
		want := ptr.Deref(d.Spec.Replicas, 1)
		st := d.Status
		return st.ObservedGeneration >= d.Generation && st.UpdatedReplicas == want && st.AvailableReplicas == want,
			fmt.Sprintf("%d updated, %d available of %d", st.UpdatedReplicas, st.AvailableReplicas, want)
	})
}

// catalogSourceName is the CatalogSource of the operator's catalog image.
const catalogSourceName = "configmapsync-catalog"

// addCatalogSource creates the CatalogSource of the operator's catalog image, which OLM runs as a pod.
func (s *stack) addCatalogSource(t *testing.T) {
	t.Helper()
	s.apply(t, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "CatalogSource",
		"metadata": map[string]any{"name": catalogSourceName, "namespace": olmNamespace},
		"spec": map[string]any{"sourceType": "grpc", "image": s.catalogImage, "displayName": "ConfigMapSync",
			"publisher": "ConfigMapSync"}}})
}

// subscribe creates the CatalogSource for the operator's catalog image, the global OperatorGroup and a
// Subscription starting at startingCSV, the way a cluster admin installs from OperatorHub.
func (s *stack) subscribe(t *testing.T, startingCSV, approval string) {
	t.Helper()
	s.addCatalogSource(t)
	for _, obj := range []map[string]any{
		{"apiVersion": "operators.coreos.com/v1", "kind": "OperatorGroup",
			"metadata": map[string]any{"name": "global-operators", "namespace": operatorNamespace}},
		{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
			"metadata": map[string]any{"name": packageName, "namespace": operatorNamespace},
			"spec": map[string]any{"channel": "stable", "name": packageName, "source": catalogSourceName,
				"sourceNamespace": olmNamespace, "startingCSV": startingCSV, "installPlanApproval": approval}},
	} {
		s.apply(t, &unstructured.Unstructured{Object: obj})
	}
}

// waitForCSV waits for a CSV of the operator to reach phase.
func (s *stack) waitForCSV(t *testing.T, name, phase string) {
	t.Helper()
	s.waitForCSVIn(t, operatorNamespace, name, phase)
}

// waitForCSVIn waits for the CSV name in namespace to reach phase.
func (s *stack) waitForCSVIn(t *testing.T, namespace, name, phase string) {
	t.Helper()
	waitFor(t, 3*time.Minute, "CSV "+name+" to be "+phase, func() (bool, string) {
		csv := olmObject("ClusterServiceVersion")
		if err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, csv); err != nil {
			return false, err.Error()
		}
		got, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
		msg, _, _ := unstructured.NestedString(csv.Object, "status", "message")
		return got == phase, got + ": " + msg
	})
}

// installPlans lists the InstallPlans in the operator's namespace.
func (s *stack) installPlans() ([]unstructured.Unstructured, error) {
	plans := &unstructured.UnstructuredList{}
	plans.SetAPIVersion("operators.coreos.com/v1alpha1")
	plans.SetKind("InstallPlanList")
	err := s.k8s.List(context.Background(), plans, client.InNamespace(operatorNamespace))
	return plans.Items, err
}

// installsCSV returns the CSV an InstallPlan installs ("" when OLM has not filled it in yet).
func installsCSV(plan *unstructured.Unstructured) string {
	names, _, _ := unstructured.NestedStringSlice(plan.Object, "spec", "clusterServiceVersionNames")
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// approveInstallPlanFor approves the InstallPlan that installs csv, as an admin does with Manual approval.
func (s *stack) approveInstallPlanFor(t *testing.T, csv string) {
	t.Helper()
	waitFor(t, 2*time.Minute, "an InstallPlan for "+csv, func() (bool, string) {
		plans, err := s.installPlans()
		if err != nil {
			return false, err.Error()
		}
		for i := range plans {
			plan := &plans[i]
			// Approve only once OLM has filled in the plan: an update racing its first status write makes OLM
			// abandon that plan and create another.
			phase, _, _ := unstructured.NestedString(plan.Object, "status", "phase")
			if installsCSV(plan) != csv || phase != "RequiresApproval" {
				continue
			}
			if err := unstructured.SetNestedField(plan.Object, true, "spec", "approved"); err != nil {
				return false, err.Error()
			}
			if err := s.k8s.Update(context.Background(), plan); err != nil {
				return false, err.Error()
			}
			return true, ""
		}
		return false, fmt.Sprintf("%d InstallPlans, none for %s yet", len(plans), csv)
	})
}

// leader returns the pod holding the operator's Lease ("" when none) and the lease.
func (s *stack) leader(t *testing.T) (string, *coordinationv1.Lease) {
	t.Helper()
	return s.leaderIn(t, operatorNamespace)
}

// leaderIn returns the pod holding the Lease of the operator installed in namespace ("" when none) and the lease.
func (s *stack) leaderIn(t *testing.T, namespace string) (string, *coordinationv1.Lease) {
	t.Helper()
	lease := &coordinationv1.Lease{}
	err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: leaseName}, lease)
	if err != nil || lease.Spec.HolderIdentity == nil {
		return "", lease
	}
	// controller-runtime's identity is "<hostname>_<uuid>"; the runner sets the hostname to the pod name.
	holder := *lease.Spec.HolderIdentity
	for i := len(holder) - 1; i >= 0; i-- {
		if holder[i] == '_' {
			return holder[:i], lease
		}
	}
	return holder, lease
}

// waitForConversionWiring waits until OLM's conversion wiring is final and works. The bundle's CRD names the Service
// of a kustomize install; OLM points it at the Service it created for the CSV. But the catalog operator re-runs an
// InstallPlan whose status update conflicted, and that re-applies the bundle's CRD (seen here: conversions failing
// for a few seconds after the CSV succeeded). So: every InstallPlan Complete, the CRD pointing at OLM's Service,
// and a v1 object read back as v1beta1 through the webhook, three times in a row.
func (s *stack) waitForConversionWiring(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	probe := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "sync.configmapsync.io/v1", "kind": "ConfigMapSync",
		"metadata": map[string]any{"name": "e2e-conversion-probe", "namespace": operatorNamespace},
		"spec": map[string]any{"source": map[string]any{"name": "e2e-absent"},
			"destination": map[string]any{"namespaces": []any{"default"}}},
	}}
	defer func() { _ = s.k8s.Delete(ctx, probe) }()
	working := 0
	waitFor(t, 2*time.Minute, "conversion through OLM's webhook Service", func() (bool, string) {
		plans, err := s.installPlans()
		if err != nil {
			return false, err.Error()
		}
		for _, plan := range plans {
			approved, _, _ := unstructured.NestedBool(plan.Object, "spec", "approved")
			if phase, _, _ := unstructured.NestedString(plan.Object, "status", "phase"); approved && phase != "Complete" {
				working = 0
				return false, "InstallPlan " + plan.GetName() + " is " + phase
			}
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd); err != nil {
			return false, err.Error()
		}
		conversion := crd.Spec.Conversion
		if conversion == nil || conversion.Webhook == nil || conversion.Webhook.ClientConfig == nil ||
			conversion.Webhook.ClientConfig.Service == nil || conversion.Webhook.ClientConfig.Service.Name != deploymentName+"-service" {
			working = 0
			return false, fmt.Sprintf("conversion: %+v", conversion)
		}
		if err := s.k8s.Create(ctx, probe.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			working = 0
			return false, "creating the probe: " + err.Error()
		}
		beta := &unstructured.Unstructured{}
		beta.SetAPIVersion("sync.configmapsync.io/v1beta1")
		beta.SetKind("ConfigMapSync")
		if err := s.k8s.Get(ctx, client.ObjectKeyFromObject(probe), beta); err != nil {
			working = 0
			return false, "reading the probe as v1beta1: " + err.Error()
		}
		working++
		return working >= 3, fmt.Sprintf("%d good reads", working)
	})
}

// checkCatalogServedFromItsImage checks what OperatorHub shows: OLM runs the catalog image as the CatalogSource's
// pod, reaches it (connection READY, through its Service's DNS name), and packageserver lists the operator's package
// from it with currentCSV at the head of its stable channel (`kubectl get packagemanifests`), described by the
// catalog's olm.csv.metadata (its display name) and the package's icon, as the console shows them.
func (s *stack) checkCatalogServedFromItsImage(t *testing.T, currentCSV string) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, time.Minute, "CatalogSource "+catalogSourceName+" READY", func() (bool, string) {
		source := olmObject("CatalogSource")
		if err := s.k8s.Get(ctx, client.ObjectKey{Namespace: olmNamespace, Name: catalogSourceName}, source); err != nil {
			return false, err.Error()
		}
		state, _, _ := unstructured.NestedString(source.Object, "status", "connectionState", "lastObservedState")
		address, _, _ := unstructured.NestedString(source.Object, "status", "connectionState", "address")
		return state == "READY", state + " at " + address
	})
	pods := &corev1.PodList{}
	if err := s.k8s.List(ctx, pods, client.InNamespace(olmNamespace), client.MatchingLabels{"olm.catalogSource": catalogSourceName}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Spec.Containers[0].Image != s.catalogImage {
		t.Fatalf("want one catalog pod running %s, got %d pods: %+v", s.catalogImage, len(pods.Items), pods.Items)
	}
	waitFor(t, time.Minute, "packagemanifest "+packageName+" at "+currentCSV, func() (bool, string) {
		manifest := &unstructured.Unstructured{}
		manifest.SetAPIVersion("packages.operators.coreos.com/v1")
		manifest.SetKind("PackageManifest")
		if err := s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: packageName}, manifest); err != nil {
			return false, err.Error()
		}
		source, _, _ := unstructured.NestedString(manifest.Object, "status", "catalogSource")
		channels, _, _ := unstructured.NestedSlice(manifest.Object, "status", "channels")
		for _, c := range channels {
			channel, _ := c.(map[string]any)
			if channel["name"] == "stable" && channel["currentCSV"] == currentCSV && source == catalogSourceName {
				name, _, _ := unstructured.NestedString(channel, "currentCSVDesc", "displayName")
				return name == "ConfigMapSync Operator", fmt.Sprintf("%s: displayName %q", currentCSV, name)
			}
		}
		return false, fmt.Sprintf("from %q: channels %v", source, channels)
	})
	// The console shows the icon packageserver serves as the manifest's icon subresource (a GET of the manifest
	// leaves icons out): the catalog's package icon, which is the CSV's.
	icon, err := s.clientset.CoreV1().RESTClient().Get().AbsPath("/apis/packages.operators.coreos.com/v1/namespaces",
		operatorNamespace, "packagemanifests", packageName, "icon").DoRaw(ctx)
	if err != nil {
		t.Fatalf("icon of packagemanifest %s: %v", packageName, err)
	}
	if want := bundleIcon(t); !bytes.Equal(icon, want) {
		t.Fatalf("packagemanifest %s: icon %q, want the CSV's %q", packageName, icon, want)
	}
}

// bundleIcon returns the image of the icon of bundle/'s CSV.
func bundleIcon(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "bundle", "manifests", packageName+".clusterserviceversion.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var csv struct {
		Spec struct {
			Icon []struct {
				Data string `json:"base64data"`
			} `json:"icon"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &csv); err != nil || len(csv.Spec.Icon) != 1 {
		t.Fatalf("the CSV's icon: %v (%d icons)", err, len(csv.Spec.Icon))
	}
	icon, err := base64.StdEncoding.DecodeString(csv.Spec.Icon[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	return icon
}
