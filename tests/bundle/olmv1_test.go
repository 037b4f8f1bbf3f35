package bundle

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// maxCommonName is cert-manager's bound on a Certificate's spec.commonName (RFC 5280's ub-common-name).
const maxCommonName = 64

// TestTheDocumentedOLMv1NamespaceFitsTheWebhookCertificate keeps the README's ClusterExtension installable: OLM v1
// asks cert-manager for the webhook Service's certificate with the common name "<deployment>-service.<namespace>"
// (operator-controller's certproviders/certmanager.go), and cert-manager's webhook refuses one over 64 bytes, which
// leaves the ClusterExtension Progressing with that error and the operator's pods waiting for their Secret.
func TestTheDocumentedOLMv1NamespaceFitsTheWebhookCertificate(t *testing.T) {
	csv := loadBundle(t).CSV
	require.NotEmpty(t, csv.Spec.WebhookDefinitions)
	namespace := documentedExtensionNamespace(t)
	for _, hook := range csv.Spec.WebhookDefinitions {
		commonName := hook.DeploymentName + "-service." + namespace
		assert.LessOrEqual(t, len(commonName), maxCommonName, "OLM v1's certificate common name %q", commonName)
	}
}

// documentedExtensionNamespace returns spec.namespace of the ClusterExtension the README shows.
func documentedExtensionNamespace(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(harness.Path("README.md"))
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	for _, block := range blocks {
		for _, doc := range yamlDocuments(t, block[1]) {
			obj := &unstructured.Unstructured{}
			require.NoError(t, yaml.Unmarshal(doc, &obj.Object))
			if obj.GetKind() == "ClusterExtension" {
				namespace, _, _ := unstructured.NestedString(obj.Object, "spec", "namespace")
				require.NotEmpty(t, namespace, "the README's ClusterExtension names its namespace")
				return namespace
			}
		}
	}
	t.Fatal("the README shows no ClusterExtension")
	return ""
}
