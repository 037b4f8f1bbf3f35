package chart

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// everyValue sets every value of the chart to something other than its default.
var everyValue = []string{
	"--set", "image.repository=registry.example.com/cms/operator,image.tag=v9.9.9",
	"--set", "image.digest=sha256:1111111111111111111111111111111111111111111111111111111111111111",
	"--set", "replicaCount=1,logLevel=debug,priorityClassName=system-cluster-critical",
	"--set", "resources.limits.memory=512Mi,resources.requests.cpu=50m",
	"--set", "nodeSelector.kubernetes\\.io/os=linux",
	"--set", "tolerations[0].key=dedicated,tolerations[0].operator=Exists,tolerations[0].effect=NoSchedule",
	"--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=kubernetes.io/arch",
	"--set", "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
	"--set", "excludedNamespaces={kube-*,openshift-*}",
	"--set", "metrics.serviceMonitor.enabled=true,metrics.serviceMonitor.labels.release=prometheus",
	"--set", "webhook.certManager.enabled=true,webhook.certManager.issuerRef.name=corp-ca,webhook.certManager.issuerRef.kind=ClusterIssuer",
	"--set", "crds.keep=false",
}

func TestEveryValueLandsWhereItShould(t *testing.T) {
	objs := helmTemplate(t, everyValue...)
	d := find(objs, "Deployment", deployment)
	require.NotNil(t, d)
	replicas, _, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "replicas")
	assert.EqualValues(t, 1, replicas)
	assert.Nil(t, find(objs, "PodDisruptionBudget", deployment), "no PodDisruptionBudget for one replica")
	pod, _, _ := unstructured.NestedMap(d.Object, "spec", "template", "spec")
	assert.Equal(t, "system-cluster-critical", pod["priorityClassName"])
	assert.Equal(t, map[string]any{"kubernetes.io/os": "linux"}, pod["nodeSelector"])
	assert.Equal(t, []any{map[string]any{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}}, pod["tolerations"])
	affinity := pod["affinity"].(map[string]any)
	assert.Contains(t, affinity, "nodeAffinity")
	assert.NotContains(t, affinity, "podAntiAffinity", "the values' affinity replaces the default")
	manager := pod["containers"].([]any)[0].(map[string]any)
	assert.Equal(t, "registry.example.com/cms/operator@sha256:1111111111111111111111111111111111111111111111111111111111111111",
		manager["image"], "the digest wins over the tag")
	assert.Equal(t, map[string]any{"limits": map[string]any{"cpu": "500m", "memory": "512Mi"},
		"requests": map[string]any{"cpu": "50m", "memory": "128Mi"}}, manager["resources"], "merged with the defaults")
	args := toStrings(manager["args"])
	assert.Contains(t, args, "--zap-log-level=debug")
	assert.Contains(t, args, "--excluded-namespaces=kube-*,openshift-*")
	assert.Contains(t, args, "--install-monitoring=false", "the chart installs the monitoring objects, not the operator")

	for _, kind := range []string{"ServiceMonitor", "PrometheusRule"} {
		require.NotNil(t, findKind(objs, kind), "metrics.serviceMonitor.enabled renders the %s", kind)
	}
	assert.Equal(t, "prometheus", findKind(objs, "ServiceMonitor").GetLabels()["release"])
	assert.NotNil(t, find(objs, "Secret", "configmapsync-operator-metrics-scraper-token"), "the ServiceMonitor's token")

	cert := findKind(objs, "Certificate")
	require.NotNil(t, cert)
	issuerRef, _, _ := unstructured.NestedMap(cert.Object, "spec", "issuerRef")
	assert.Equal(t, map[string]any{"name": "corp-ca", "kind": "ClusterIssuer"}, issuerRef)
	assert.Nil(t, findKind(objs, "Issuer"), "no self-signed Issuer when the values name one")
	assert.Nil(t, find(objs, "Secret", certSecret), "cert-manager makes the Secret")
	assert.Empty(t, caBundles(t, objs)["configmapsyncs.sync.configmapsync.io"], "cert-manager injects the CA")

	for _, obj := range objs {
		if obj.GetKind() == "CustomResourceDefinition" {
			assert.NotContains(t, obj.GetAnnotations(), "helm.sh/resource-policy", "crds.keep=false")
			if obj.GetName() == "configmapsyncs.sync.configmapsync.io" { // The CRD with a conversion webhook.
				assert.Equal(t, namespace+"/configmapsync-operator-serving-cert", obj.GetAnnotations()["cert-manager.io/inject-ca-from"])
			}
		}
	}
}

func TestImageTagDefaultsToTheAppVersion(t *testing.T) {
	d := find(helmTemplate(t, "--set", "image.tag=v1.2.3"), "Deployment", deployment)
	assert.Equal(t, "quay.io/configmapsync/configmapsync-operator:v1.2.3", container(d)["image"])
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	require.NoError(t, err)
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &chart))
	require.NotEmpty(t, chart.AppVersion)
	d = find(helmTemplate(t), "Deployment", deployment)
	assert.Equal(t, "quay.io/configmapsync/configmapsync-operator:v"+chart.AppVersion, container(d)["image"])
}

func container(d *unstructured.Unstructured) map[string]any {
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	return containers[0].(map[string]any)
}

func findKind(objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	for _, obj := range objs {
		if obj.GetKind() == kind {
			return obj
		}
	}
	return nil
}

func TestTheSchemaRefusesValuesTheChartWouldIgnoreOrBreakOn(t *testing.T) {
	for value, complaint := range map[string]string{
		"replicas=3":                          "additional properties 'replicas' not allowed",
		"replicaCount=0":                      "/replicaCount",
		"image.digest=latest":                 "/image/digest",
		"webhook.certManager.issuerRef.nam=x": "additional properties 'nam' not allowed",
		"crds.keep=maybe":                     "/crds/keep",
	} {
		_, err := runHelmTemplate(t, "--set", value)
		if assert.Error(t, err, value) {
			assert.Contains(t, err.Error(), complaint, value)
		}
	}
}
