package bundle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// ---------------------------------------------------------------------------------------------------------------
// Helpers

func bundleDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(harness.RepoRoot, "bundle")
}

// loadBundle loads the bundle the way operator-sdk does: from the bundle root, so metadata/annotations.yaml is read.
func loadBundle(t *testing.T) *manifests.Bundle {
	t.Helper()
	b, err := manifests.GetBundleFromDir(bundleDir(t))
	require.NoError(t, err, "loading the bundle")
	require.NotNil(t, b)
	require.NotNil(t, b.CSV, "the bundle has no ClusterServiceVersion")
	return b
}

// almExamples parses the CSV's alm-examples annotation.
func almExamples(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) []unstructured.Unstructured {
	t.Helper()
	raw, ok := csv.GetAnnotations()["alm-examples"]
	require.True(t, ok, "the CSV has no alm-examples annotation")
	var objs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(raw), &objs), "alm-examples is not a JSON array of objects")
	require.NotEmpty(t, objs, "alm-examples is empty")
	examples := make([]unstructured.Unstructured, 0, len(objs))
	for i, obj := range objs {
		u := unstructured.Unstructured{Object: obj}
		require.NotEmpty(t, u.GetAPIVersion(), "alm-examples[%d] has no apiVersion", i)
		require.NotEmpty(t, u.GetKind(), "alm-examples[%d] has no kind", i)
		require.NotEmpty(t, u.GetName(), "alm-examples[%d] has no metadata.name", i)
		examples = append(examples, u)
	}
	return examples
}

func exampleID(ex unstructured.Unstructured) string {
	return fmt.Sprintf("%s %s %q", ex.GetAPIVersion(), ex.GetKind(), ex.GetName())
}

// topLevelMap returns ex[key] as a map (nil when absent); a present key that is not an object fails the test.
func topLevelMap(t *testing.T, ex unstructured.Unstructured, key string) map[string]any {
	t.Helper()
	v, ok := ex.Object[key]
	if !ok || v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	require.True(t, ok, "%s: %s is a %T, not an object", exampleID(ex), key, v)
	return m
}

// findCRDVersion returns the CRD file and version that serve a group/version/kind.
func findCRDVersion(b *manifests.Bundle, gvk schema.GroupVersionKind) (*apiextensionsv1.CustomResourceDefinition, *apiextensionsv1.CustomResourceDefinitionVersion) {
	for _, crd := range b.V1CRDs {
		if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind {
			continue
		}
		for i := range crd.Spec.Versions {
			if crd.Spec.Versions[i].Name == gvk.Version {
				return crd, &crd.Spec.Versions[i]
			}
		}
	}
	return nil, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// managerDeployment returns the operator's deployment from the CSV's install strategy.
func managerDeployment(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) appsv1.DeploymentSpec {
	t.Helper()
	require.Equal(t, operatorsv1alpha1.InstallStrategyNameDeployment, csv.Spec.InstallStrategy.StrategyName)
	var names []string
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		if d.Name == deploymentName {
			return d.Spec
		}
		names = append(names, d.Name)
	}
	require.Failf(t, "deployment missing", "the CSV has no deployment %q (it has %v)", deploymentName, names)
	return appsv1.DeploymentSpec{}
}

func managerContainer(t *testing.T, spec appsv1.DeploymentSpec) corev1.Container {
	t.Helper()
	for _, c := range spec.Template.Spec.Containers {
		if c.Name == managerName {
			return c
		}
	}
	require.Failf(t, "container missing", "the deployment has no container %q", managerName)
	return corev1.Container{}
}

// bindPort returns the port of a `--flag=:port` argument, or 0.
func bindPort(args []string, flag string) int {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			_, port, found := strings.Cut(v, ":")
			if !found {
				return 0
			}
			p, err := strconv.Atoi(port)
			if err != nil {
				return 0
			}
			return p
		}
	}
	return 0
}

// objectsOfKind returns the bundle's manifests of one kind.
func objectsOfKind(b *manifests.Bundle, kind string) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, o := range b.Objects {
		if o.GetKind() == kind {
			objs = append(objs, o)
		}
	}
	return objs
}

func fromUnstructured[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	data, err := json.Marshal(u.Object)
	require.NoError(t, err)
	out := new(T)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(out), "%s %q does not decode strictly as %T", u.GetKind(), u.GetName(), *out)
	return out
}

// yamlDocuments splits a multi-document YAML stream, dropping documents that are empty or only comments.
func yamlDocuments(t *testing.T, data []byte) [][]byte {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		var v any
		require.NoError(t, yaml.Unmarshal(doc, &v), "invalid YAML document:\n%s", doc)
		if v == nil {
			continue
		}
		docs = append(docs, doc)
	}
	return docs
}

func readAnnotations(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundleDir(t), "metadata", "annotations.yaml"))
	require.NoError(t, err)
	var file struct {
		Annotations map[string]string `json:"annotations"`
	}
	require.NoError(t, yaml.UnmarshalStrict(data, &file), "metadata/annotations.yaml")
	require.NotEmpty(t, file.Annotations, "metadata/annotations.yaml has no annotations")
	return file.Annotations
}
