package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"image"
	_ "image/png" // an icon may be a PNG
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/blang/semver/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// ---------------------------------------------------------------------------------------------------------------
// 6. What the community-operators catalogs require

// catalogDoc is the part of a file-based catalog document these tests read.
type catalogDoc struct {
	Schema  string `json:"schema"`
	Name    string `json:"name"`
	Package string `json:"package"`
	Icon    *struct {
		Data      string `json:"base64data"`
		MediaType string `json:"mediatype"`
	} `json:"icon"`
	Entries []struct {
		Name      string `json:"name"`
		Replaces  string `json:"replaces"`
		SkipRange string `json:"skipRange"`
	} `json:"entries"`
	Properties []struct {
		Type string `json:"type"`
	} `json:"properties"`
}

// catalogDocs reads catalog/<package>/catalog.yaml.
func catalogDocs(t *testing.T) []catalogDoc {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot, "catalog", packageName, "catalog.yaml"))
	require.NoError(t, err)
	raws := yamlDocuments(t, data)
	docs := make([]catalogDoc, 0, len(raws))
	for _, raw := range raws {
		var d catalogDoc
		require.NoError(t, yaml.Unmarshal(raw, &d))
		docs = append(docs, d)
	}
	return docs
}

// TestCatalogBundlesCarryCSVMetadata checks that every bundle of the catalog describes its CSV with one
// olm.csv.metadata property and carries none of its objects inline (olm.bundle.object, which newer catalogs refuse):
// OLM unpacks the bundle image to install it. The console then shows the package's icon, so it is the CSV's.
func TestCatalogBundlesCarryCSVMetadata(t *testing.T) {
	csv := loadBundle(t).CSV
	bundles := 0
	for _, d := range catalogDocs(t) {
		switch d.Schema {
		case "olm.package":
			require.NotNil(t, d.Icon, "olm.package has no icon")
			require.Len(t, csv.Spec.Icon, 1, "the CSV's icon")
			assert.Equal(t, csv.Spec.Icon[0].Data, d.Icon.Data, "the package's icon is the CSV's")
			assert.Equal(t, csv.Spec.Icon[0].MediaType, d.Icon.MediaType, "the package's icon is the CSV's")
		case "olm.bundle":
			bundles++
			types := map[string]int{}
			for _, p := range d.Properties {
				types[p.Type]++
			}
			assert.Equal(t, 1, types["olm.csv.metadata"], "bundle %s: one olm.csv.metadata", d.Name)
			assert.Zero(t, types["olm.bundle.object"], "bundle %s: objects inline", d.Name)
		}
	}
	assert.Equal(t, len(releasedVersions)+1, bundles, "olm.bundle documents")
}

// TestCSVUpgradeEdgeIsTheCatalogs checks that the CSV's spec.replaces and olm.skipRange (which make bundle sets from
// PREVIOUS_VERSION and VERSION, and the community-operators index builds its graph from) are the catalog's channel
// entry for this release (which catalog-template.yaml gives): one upgrade graph, whichever of the two is read.
func TestCSVUpgradeEdgeIsTheCatalogs(t *testing.T) {
	csv := loadBundle(t).CSV
	assert.Equal(t, packageName+".v"+releasedVersions[len(releasedVersions)-1], csv.Spec.Replaces,
		"the CSV replaces the latest earlier release")
	found := false
	for _, d := range catalogDocs(t) {
		if d.Schema != "olm.channel" {
			continue
		}
		for _, e := range d.Entries {
			if e.Name == csv.Name {
				found = true
				assert.Equal(t, e.Replaces, csv.Spec.Replaces, "channel %s: replaces of %s", d.Name, e.Name)
				assert.Equal(t, e.SkipRange, csv.Annotations["olm.skipRange"], "channel %s: skipRange of %s", d.Name, e.Name)
			}
		}
	}
	assert.True(t, found, "no channel entry for %s", csv.Name)
}

// TestBundleOpenShiftVersionsMatchMinKubeVersion checks com.redhat.openshift.versions (which OpenShift catalogs the
// community-operators-prod pipeline puts the bundle in): the oldest OpenShift it names runs exactly the CSV's
// minKubeVersion (OpenShift 4.N runs Kubernetes 1.(N+13) since 4.9), so it names no OpenShift too old for the
// operator and leaves out none that can run it.
func TestBundleOpenShiftVersionsMatchMinKubeVersion(t *testing.T) {
	csv := loadBundle(t).CSV
	value := readAnnotations(t)["com.redhat.openshift.versions"]
	require.NotEmpty(t, value, "metadata/annotations.yaml has no com.redhat.openshift.versions")
	// "v4.17" (4.17 and later), "v4.17-v4.20" (a range) or "=v4.17" (only 4.17): the first is the oldest.
	oldest, _, _ := strings.Cut(strings.TrimPrefix(value, "="), "-")
	ocp, err := semver.ParseTolerant(strings.TrimPrefix(oldest, "v"))
	require.NoError(t, err, "com.redhat.openshift.versions %q", value)
	require.Equal(t, uint64(4), ocp.Major, "com.redhat.openshift.versions %q", value)
	minKube, err := semver.ParseTolerant(csv.Spec.MinKubeVersion)
	require.NoError(t, err, "minKubeVersion")
	assert.Equal(t, "1."+strconv.FormatUint(ocp.Minor+13, 10), "1."+strconv.FormatUint(minKube.Minor, 10),
		"the Kubernetes of OpenShift %s (com.redhat.openshift.versions %q) against minKubeVersion %s", oldest, value,
		csv.Spec.MinKubeVersion)
}

// TestBundleIconIsSquare checks the CSV's icon as OperatorHub and the console tile show it: one SVG or PNG, square
// (they scale it into a square box), and small.
func TestBundleIconIsSquare(t *testing.T) {
	csv := loadBundle(t).CSV
	require.Len(t, csv.Spec.Icon, 1, "one icon")
	icon := csv.Spec.Icon[0]
	data, err := base64.StdEncoding.DecodeString(icon.Data)
	require.NoError(t, err, "base64data")
	assert.Less(t, len(data), 50<<10, "the icon is under 50 KiB")
	var width, height float64
	switch icon.MediaType {
	case "image/svg+xml":
		var svg struct {
			ViewBox string `xml:"viewBox,attr"`
		}
		require.NoError(t, xml.Unmarshal(data, &svg), "the SVG")
		box := strings.Fields(svg.ViewBox)
		require.Len(t, box, 4, "the SVG's viewBox %q", svg.ViewBox)
		width, err = strconv.ParseFloat(box[2], 64)
		require.NoError(t, err)
		height, err = strconv.ParseFloat(box[3], 64)
		require.NoError(t, err)
	case "image/png":
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		require.NoError(t, err, "the PNG")
		width, height = float64(cfg.Width), float64(cfg.Height)
	default:
		t.Fatalf("icon mediatype %q: want image/svg+xml or image/png", icon.MediaType)
	}
	require.Positive(t, height)
	assert.InDelta(t, 1, width/height, 0.05, "the icon's aspect (%gx%g)", width, height)
}

// TestCatalogTemplateIsTheCatalogsSource checks that catalog-template.yaml, which make catalog renders, names the
// bundle image of every release, oldest first, by its release tag (make catalog builds each from its folder by that
// tag and names it by digest), all in one repository.
func TestCatalogTemplateIsTheCatalogsSource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(harness.RepoRoot, "catalog-template.yaml"))
	require.NoError(t, err)
	var template struct {
		Schema  string            `json:"schema"`
		Entries []json.RawMessage `json:"entries"`
	}
	require.NoError(t, yaml.Unmarshal(data, &template))
	assert.Equal(t, "olm.template.basic", template.Schema)
	var tags []string
	repos := map[string]bool{}
	for _, raw := range template.Entries {
		var e struct {
			Schema string `json:"schema"`
			Image  string `json:"image"`
		}
		require.NoError(t, json.Unmarshal(raw, &e))
		if e.Schema != "olm.bundle" {
			continue
		}
		slash := strings.LastIndex(e.Image, "/")
		colon := strings.LastIndex(e.Image, ":")
		if !assert.Greater(t, colon, slash, "bundle image %q has no tag", e.Image) {
			continue
		}
		repos[e.Image[:colon]] = true
		tags = append(tags, e.Image[colon+1:])
	}
	want := make([]string, 0, len(releasedVersions)+1)
	for _, v := range slices.Concat(releasedVersions, []string{loadBundle(t).CSV.Spec.Version.String()}) {
		want = append(want, "v"+v)
	}
	assert.Equal(t, want, tags, "the template's bundle image tags")
	assert.Len(t, repos, 1, "the template's bundle repositories")
}
