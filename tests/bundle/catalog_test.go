package bundle

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// ---------------------------------------------------------------------------------------------------------------
// 5. The file-based catalog

func TestCatalogHasTheUpgradeEdge(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot, "catalog", packageName, "catalog.yaml"))
	require.NoError(t, err)

	type entry struct {
		Name      string   `json:"name"`
		Replaces  string   `json:"replaces"`
		Skips     []string `json:"skips"`
		SkipRange string   `json:"skipRange"`
		// Reference and Message are olm.deprecations entries'.
		Reference struct {
			Schema string `json:"schema"`
			Name   string `json:"name"`
		} `json:"reference"`
		Message string `json:"message"`
	}
	type doc struct {
		Schema         string  `json:"schema"`
		Name           string  `json:"name"`
		Package        string  `json:"package"`
		DefaultChannel string  `json:"defaultChannel"`
		Entries        []entry `json:"entries"`
		Properties     []struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	var packages, channels, bundles, deprecations []doc
	for _, raw := range yamlDocuments(t, data) {
		var d doc
		require.NoError(t, yaml.Unmarshal(raw, &d))
		switch d.Schema {
		case "olm.package":
			packages = append(packages, d)
		case "olm.channel":
			channels = append(channels, d)
		case "olm.bundle":
			bundles = append(bundles, d)
		case "olm.deprecations":
			deprecations = append(deprecations, d)
		default:
			t.Errorf("unexpected catalog document schema %q (name %q)", d.Schema, d.Name)
		}
	}

	// Every release in the channel, oldest first; the head is the bundle in bundle/.
	releases := make([]string, 0, len(releasedVersions)+1)
	for _, version := range releasedVersions {
		releases = append(releases, packageName+".v"+version)
	}
	head := loadBundle(t).CSV
	releases = append(releases, head.Name)

	// 0.1.0 serves only v1beta1: OLM shows it as deprecated (and warns a Subscription pinned to it).
	require.Len(t, deprecations, 1, "one olm.deprecations")
	assert.Equal(t, packageName, deprecations[0].Package)
	if assert.Len(t, deprecations[0].Entries, 1) {
		d := deprecations[0].Entries[0]
		assert.Equal(t, "olm.bundle", d.Reference.Schema)
		assert.Equal(t, packageName+".v0.1.0", d.Reference.Name)
		assert.Contains(t, d.Message, "v1beta1")
	}

	require.Len(t, packages, 1, "one olm.package")
	assert.Equal(t, packageName, packages[0].Name)
	assert.Equal(t, "stable", packages[0].DefaultChannel)

	var stable *doc
	for i := range channels {
		assert.Equal(t, packageName, channels[i].Package, "channel %s: package", channels[i].Name)
		if channels[i].Name == "stable" {
			stable = &channels[i]
		}
	}
	require.NotNil(t, stable, "no channel stable")
	names := make([]string, 0, len(stable.Entries))
	byName := map[string]entry{}
	for _, e := range stable.Entries {
		names = append(names, e.Name)
		byName[e.Name] = e
	}
	assert.ElementsMatch(t, releases, names, "entries of channel stable (the head is bundle/; re-run make catalog)")
	assert.Empty(t, byName[releases[0]].Replaces, "%s is the first release", releases[0])
	// Each release replaces the one before, and skips every earlier one: any release upgrades to it in one step.
	for i := 1; i < len(releases); i++ {
		e := byName[releases[i]]
		assert.Equal(t, releases[i-1], e.Replaces, "%s must replace %s", releases[i], releases[i-1])
		if !assert.NotEmpty(t, e.SkipRange, "%s has no skipRange", releases[i]) {
			continue
		}
		r, err := semver.ParseRange(e.SkipRange)
		if !assert.NoError(t, err, "skipRange %q", e.SkipRange) {
			continue
		}
		for j, earlier := range releases[:i+1] {
			v := semver.MustParse(strings.TrimPrefix(earlier, packageName+".v"))
			assert.Equal(t, j < i, r(v), "skipRange %q of %s on %s", e.SkipRange, releases[i], v)
		}
	}

	bundleNames := map[string]doc{}
	for _, d := range bundles {
		assert.Equal(t, packageName, d.Package, "bundle %s: package", d.Name)
		bundleNames[d.Name] = d
	}
	assert.Len(t, bundles, len(releases), "one olm.bundle document per release")
	for _, name := range releases {
		d, ok := bundleNames[name]
		if !assert.True(t, ok, "no olm.bundle %s", name) {
			continue
		}
		version := ""
		for _, p := range d.Properties {
			if p.Type == "olm.package" {
				var v struct {
					PackageName string `json:"packageName"`
					Version     string `json:"version"`
				}
				require.NoError(t, json.Unmarshal(p.Value, &v))
				assert.Equal(t, packageName, v.PackageName, "bundle %s: olm.package property", name)
				version = v.Version
			}
		}
		assert.Equal(t, name, packageName+".v"+version, "bundle %s: olm.package version property", name)
	}
}

// TestBundleClaimsDisconnectedOnlyWithImagesByDigest checks the CSV's features.operators.openshift.io/disconnected
// claim against its images: a mirror for a disconnected cluster (oc-mirror) can only copy images named by digest,
// so the claim is "true" exactly when containerImage and every container's image are (`make bundle
// USE_IMAGE_DIGESTS=true`), and "false" otherwise.
func TestBundleClaimsDisconnectedOnlyWithImagesByDigest(t *testing.T) {
	csv := loadBundle(t).CSV
	containers := managerDeployment(t, csv).Template.Spec.Containers
	images := make([]string, 0, 1+len(containers))
	images = append(images, csv.Annotations["containerImage"])
	for _, c := range containers {
		images = append(images, c.Image)
	}
	pinned := true
	for _, image := range images {
		require.NotEmpty(t, image)
		pinned = pinned && strings.Contains(image, "@sha256:")
	}
	assert.Equal(t, strconv.FormatBool(pinned), csv.Annotations["features.operators.openshift.io/disconnected"],
		"images %v", images)
}

// TestBundleMetadataIsWhatOperatorHubShows checks the CSV metadata OperatorHub displays and filters on: createdAt is
// a release date (midnight UTC, as make bundle sets it from RELEASE_DATE, never the build time), the maturity agrees
// with the channel it is published in, the architectures the operator image is built for are declared, and the
// links lead to the documentation and the runbooks the alerts name.
func TestBundleMetadataIsWhatOperatorHubShows(t *testing.T) {
	csv := loadBundle(t).CSV
	created, err := time.Parse(time.RFC3339, csv.Annotations["createdAt"])
	require.NoError(t, err, "createdAt")
	assert.Equal(t, created.Truncate(24*time.Hour), created, "createdAt is a date")
	assert.False(t, created.After(time.Now()), "createdAt is in the future")

	channel := readAnnotations(t)["operators.operatorframework.io.bundle.channel.default.v1"]
	assert.Equal(t, "stable", channel)
	assert.Equal(t, channel, csv.Spec.Maturity, "maturity and the channel agree")

	// The operator image is an index of these (make image, IMAGE_ARCHS).
	for _, label := range []string{"operatorframework.io/arch.amd64", "operatorframework.io/arch.arm64", "operatorframework.io/os.linux"} {
		assert.Equal(t, "supported", csv.Labels[label], label)
	}

	links := map[string]string{}
	for _, l := range csv.Spec.Links {
		links[l.Name] = l.URL
		assert.True(t, strings.HasPrefix(l.URL, "https://"), "link %s: %s", l.Name, l.URL)
	}
	assert.Contains(t, links, "Documentation")
	if runbooks, ok := links["Alert runbooks"]; assert.True(t, ok, "a link to the runbooks") {
		assert.True(t, strings.HasSuffix(runbooks, "/docs/runbooks"), runbooks)
		assert.DirExists(t, filepath.Join(harness.RepoRoot, "docs", "runbooks"))
	}
}

// TestEverySpecFieldHasAConsoleDescriptor walks the schema of each current (not deprecated) owned CRD version: every
// field a user sets (each leaf, each array of scalars, each map, and a label selector as a whole) has a spec
// descriptor, so the console's form shows it with the right widget; every descriptor names a field that exists; and
// no descriptor is one the console deprecated (fieldGroup, arrayFieldGroup: it groups by the schema itself).
func TestEverySpecFieldHasAConsoleDescriptor(t *testing.T) {
	b := loadBundle(t)
	for _, owned := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		var version *apiextensionsv1.CustomResourceDefinitionVersion
		for _, crd := range b.V1CRDs {
			for i, v := range crd.Spec.Versions {
				if crd.Name == owned.Name && v.Name == owned.Version {
					version = &crd.Spec.Versions[i]
				}
			}
		}
		require.NotNil(t, version, "owned %s %s", owned.Name, owned.Version)
		if version.Deprecated {
			continue
		}
		t.Run(owned.Kind+"/"+owned.Version, func(t *testing.T) {
			fields := map[string]bool{}
			specFields(version.Schema.OpenAPIV3Schema.Properties["spec"], "", fields)
			require.NotEmpty(t, fields)
			described := map[string]bool{}
			for _, d := range owned.SpecDescriptors {
				described[d.Path] = true
				switch {
				case fields[d.Path]:
					assert.NotEmpty(t, d.XDescriptors, "descriptor %s has no widget", d.Path)
				case isGroup(d.Path, fields):
					// A group (an object or a list of objects): the console lays it out from the schema.
				default:
					t.Errorf("descriptor %s names no field a user sets", d.Path)
				}
			}
			for field := range fields {
				assert.True(t, described[field], "spec.%s has no spec descriptor", field)
			}
			// The scorecard's olm-spec-descriptors test wants one for every top-level spec key of the examples.
			for _, ex := range almExamples(t, b.CSV) {
				if ex.GetKind() != owned.Kind || ex.GroupVersionKind().Version != owned.Version {
					continue
				}
				spec, _, _ := unstructured.NestedMap(ex.Object, "spec")
				for key := range spec {
					assert.True(t, described[key], "spec.%s of the %s example has no spec descriptor", key, owned.Kind)
				}
			}
			var widgets []string
			for _, d := range owned.SpecDescriptors {
				widgets = append(widgets, d.XDescriptors...)
			}
			for _, d := range owned.StatusDescriptors {
				widgets = append(widgets, d.XDescriptors...)
			}
			for _, x := range widgets {
				assert.NotContains(t, strings.ToLower(x), "fieldgroup", "deprecated descriptor %s", x)
			}
		})
	}
}

// specFields adds to fields the descriptor path of every field a user sets below s: objects with properties are
// walked (array items as [0], as descriptors name them); anything else, and a label selector, is one field.
func specFields(s apiextensionsv1.JSONSchemaProps, path string, fields map[string]bool) {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch {
	case s.Type == "array" && s.Items != nil && s.Items.Schema != nil && len(s.Items.Schema.Properties) > 0:
		specFields(*s.Items.Schema, path+"[0]", fields)
	case len(s.Properties) > 0 && !isLabelSelector(s):
		for name, p := range s.Properties {
			specFields(p, join(name), fields)
		}
	default:
		fields[path] = true
	}
}

// isGroup says whether path is an object or list of objects holding some of fields.
func isGroup(path string, fields map[string]bool) bool {
	for field := range fields {
		if strings.HasPrefix(field, path+".") || strings.HasPrefix(field, path+"[0]") {
			return true
		}
	}
	return false
}

func isLabelSelector(s apiextensionsv1.JSONSchemaProps) bool {
	_, labels := s.Properties["matchLabels"]
	_, expressions := s.Properties["matchExpressions"]
	return labels && expressions
}
