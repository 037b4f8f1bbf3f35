package bundle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/crdify/pkg/config"
	"sigs.k8s.io/crdify/pkg/runner"
	"sigs.k8s.io/crdify/pkg/validations/property"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// releasedCRDs are the CRD files of every release, by release: an upgrade from any of them must pass.
var releasedCRDs = map[string][]string{
	"0.1.0": {"bundle-0.1.0/manifests/sync.configmapsync.io_configmapsyncs.yaml"},
	"0.2.0": {
		"bundle-0.2.0/manifests/sync.configmapsync.io_configmapsyncs.yaml",
		"bundle-0.2.0/manifests/sync.configmapsync.io_managedsecrets.yaml",
	},
	"0.3.0": {
		"crds-0.3.0/sync.configmapsync.io_configmapsyncs.yaml",
		"crds-0.3.0/sync.configmapsync.io_managedsecrets.yaml",
	},
}

// olmV1UpgradeSafety is the configuration of OLM v1's CRD upgrade safety preflight (operator-controller v1.11.0,
// internal/operator-controller/rukpak/preflights/crdupgradesafety): every change its validations do not know is an
// error, so a changed CEL rule or a removed default blocks the upgrade of a ClusterExtension.
func olmV1UpgradeSafety() *config.Config {
	return &config.Config{
		Conversion:           config.ConversionPolicyIgnore,
		UnhandledEnforcement: config.EnforcementPolicyError,
		Validations: []config.ValidationConfig{
			{Name: "description", Enforcement: config.EnforcementPolicyNone},
			{Name: "enum", Enforcement: config.EnforcementPolicyError,
				Configuration: map[string]any{"additionPolicy": property.AdditionPolicyAllow}},
		},
	}
}

// TestTheCRDsPassOLMv1UpgradeSafetyFromEveryRelease runs the check OLM v1 runs before it upgrades a
// ClusterExtension, with crdify as operator-controller does, from each release's CRDs to the bundle's: the e2e
// lane upgrades from one release only, and needs minutes to say what this says in a second.
func TestTheCRDsPassOLMv1UpgradeSafetyFromEveryRelease(t *testing.T) {
	r, err := runner.New(olmV1UpgradeSafety(), runner.DefaultRegistry())
	require.NoError(t, err)
	for release, files := range releasedCRDs {
		for _, file := range files {
			old := readCRD(t, filepath.Join(harness.RepoRoot, "tests", "testdata", file))
			current := readCRD(t, filepath.Join(bundleDir(t), "manifests", filepath.Base(file)))
			t.Run(release+"/"+old.Spec.Names.Plural, func(t *testing.T) {
				results := r.Run(old, current)
				assert.False(t, results.HasFailures(), "OLM v1 would refuse this upgrade:\n%s", results.RenderPlainText())
			})
		}
	}
}

func readCRD(t *testing.T, path string) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.UnmarshalStrict(data, crd), path)
	return crd
}
