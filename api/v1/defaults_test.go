package v1

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// schemaOf reads the generated CRD of plural and returns the schema of each of its versions.
func schemaOf(t *testing.T, plural string) map[string]*apiextensionsv1.JSONSchemaProps {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "sync.configmapsync.io_"+plural+".yaml"))
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.Unmarshal(raw, crd))
	out := map[string]*apiextensionsv1.JSONSchemaProps{}
	for _, v := range crd.Spec.Versions {
		out[v.Name] = v.Schema.OpenAPIV3Schema
	}
	return out
}

// property walks a dotted path of properties ("spec.rollout.debounce"); array items are stepped through.
func property(s *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, bool) {
	for _, name := range strings.Split(path, ".") {
		if s.Items != nil && s.Items.Schema != nil {
			s = s.Items.Schema
		}
		p, ok := s.Properties[name]
		if !ok {
			return nil, false
		}
		s = &p
	}
	return s, true
}

func TestSchemaMarkersAgreeWithTheGoDefaults(t *testing.T) {
	defaults := map[string]map[string]any{
		"configmapsyncs": {
			"spec.source.kind":           DefaultSourceKind,
			"spec.syncFrequency":         DefaultSyncFrequency,
			"spec.syncStrategy":          DefaultSyncStrategy,
			"spec.deletionPolicy":        DefaultDeletionPolicy,
			"spec.conflictPolicy":        DefaultConflictPolicy,
			"spec.rollout.volumeMounts":  DefaultVolumeMounts,
			"spec.rollout.debounce":      DefaultRolloutDebounce,
			"spec.source.namespace":      nil, // the object's own namespace: the webhook's to fill, not the schema's
			"spec.destination.name":      nil,
			"spec.destination.namespace": nil,
		},
		"managedsecrets": {
			"spec.type":                 DefaultSecretType,
			"spec.deletionPolicy":       DefaultDeletionPolicy,
			"spec.secretName":           nil,
			"spec.rollout.volumeMounts": DefaultVolumeMounts,
			"spec.rollout.debounce":     DefaultRolloutDebounce,
		},
	}
	// v1beta1 spells its enums its own way; only the duration it shares with v1 must agree.
	defaults["configmapsyncs/v1beta1"] = map[string]any{"spec.syncFrequency": DefaultSyncFrequency}
	for key, want := range defaults {
		plural, only, _ := strings.Cut(key, "/")
		for version, schema := range schemaOf(t, plural) {
			if only == "" && version != "v1" || only != "" && version != only {
				continue
			}
			for path, value := range want {
				p, ok := property(schema, path)
				if !ok {
					assert.Nil(t, value, "%s %s has no field %s", plural, version, path)
					continue
				}
				if value == nil {
					assert.Nil(t, p.Default, "%s %s %s has a schema default", plural, version, path)
					continue
				}
				if assert.NotNil(t, p.Default, "%s %s %s has no schema default", plural, version, path) {
					w, _ := json.Marshal(value)
					assert.JSONEq(t, string(w), string(p.Default.Raw), "%s %s %s", plural, version, path)
				}
			}
		}
	}
}

func TestSchemaMarkersAgreeWithTheGoBounds(t *testing.T) {
	cms := schemaOf(t, "configmapsyncs")["v1"]
	namespaces, ok := property(cms, "spec.destination.namespaces")
	require.True(t, ok)
	assert.Equal(t, int64(MaxDestinationNamespaces), *namespaces.MaxItems)

	ms := schemaOf(t, "managedsecrets")["v1"]
	keys, ok := property(ms, "spec.keys")
	require.True(t, ok)
	assert.Equal(t, int64(MaxManagedSecretKeys), *keys.MaxItems)
	for path, bounds := range map[string][2]string{
		"spec.rotationInterval": {MinRotationInterval, MaxRotationInterval},
		"spec.keepPrevious":     {MinKeepPrevious, MaxKeepPrevious},
	} {
		p, ok := property(ms, path)
		require.True(t, ok, path)
		require.Len(t, p.XValidations, 1, path)
		assert.Equal(t, fmt.Sprintf("duration(self) >= duration('%s') && duration(self) <= duration('%s')", bounds[0], bounds[1]),
			p.XValidations[0].Rule, path)
		assert.Contains(t, p.XValidations[0].Message, fmt.Sprintf("between %s and %s", bounds[0], bounds[1]), path)
	}
}

func TestDurationBetweenNamesTheRule(t *testing.T) {
	d, err := DurationBetween("90s", "10s", "24h")
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, d)
	for _, bad := range []string{"", "nonsense", "-1m", "5s", "25h"} {
		_, err := DurationBetween(bad, "10s", "24h")
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "between 10s and 24h", bad)
	}
	_, err = DurationBetween("1m", "ten", "24h")
	assert.ErrorContains(t, err, `bad lower bound "ten"`)
}

func TestConfigMapSyncAccessorsFillTheDefaults(t *testing.T) {
	c := &ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a"}, Spec: ConfigMapSyncSpec{Source: SourceReference{Name: "settings"}}}
	assert.Equal(t, SourceKindConfigMap, c.SourceKind())
	assert.Equal(t, "team-a", c.SourceNamespace())
	assert.Equal(t, "settings", c.CopyName())
	period, err := c.SyncPeriod()
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, period)
	rollout := c.EffectiveRollout()
	assert.Equal(t, RolloutPolicy{VolumeMounts: VolumeMountsIgnore, Debounce: "30s"}, rollout)
	debounce, err := rollout.DebouncePeriod()
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, debounce)

	c.Spec.Source = SourceReference{Kind: SourceKindSecret, Namespace: "vault", Name: "tls"}
	c.Spec.Destination.Name = "ca"
	c.Spec.SyncFrequency = "30s"
	c.Spec.Rollout = &RolloutPolicy{Enabled: true, Debounce: "2m"}
	assert.Equal(t, SourceKindSecret, c.SourceKind())
	assert.Equal(t, "vault", c.SourceNamespace())
	assert.Equal(t, "ca", c.CopyName())
	period, err = c.SyncPeriod()
	require.NoError(t, err)
	assert.Equal(t, 30*time.Second, period)
	assert.Equal(t, RolloutPolicy{Enabled: true, VolumeMounts: VolumeMountsIgnore, Debounce: "2m"}, c.EffectiveRollout())
}

func TestConfigMapSyncAccessorsNameTheFieldOfABadDuration(t *testing.T) {
	c := &ConfigMapSync{Spec: ConfigMapSyncSpec{SyncFrequency: "1s", Rollout: &RolloutPolicy{Debounce: "2h"}}}
	_, err := c.SyncPeriod()
	assert.ErrorContains(t, err, `spec.syncFrequency: "1s" is not a duration between 10s and 24h`)
	_, err = c.EffectiveRollout().DebouncePeriod()
	assert.ErrorContains(t, err, `spec.rollout.debounce: "2h" is not a duration between 0s and 1h`)
}

func TestManagedSecretAccessors(t *testing.T) {
	m := &ManagedSecret{ObjectMeta: metav1.ObjectMeta{Name: "db"}}
	assert.Equal(t, "db", m.SecretName())
	for _, get := range []func() (time.Duration, error){m.RotationPeriod, m.KeepPreviousPeriod} {
		d, err := get()
		require.NoError(t, err)
		assert.Zero(t, d, "unset means none")
	}

	m.Spec = ManagedSecretSpec{SecretName: "db-credentials", RotationInterval: "720h", KeepPrevious: "10m"}
	assert.Equal(t, "db-credentials", m.SecretName())
	interval, err := m.RotationPeriod()
	require.NoError(t, err)
	assert.Equal(t, 720*time.Hour, interval)
	keep, err := m.KeepPreviousPeriod()
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, keep)

	m.Spec.RotationInterval, m.Spec.KeepPrevious = "30s", "8761h"
	_, err = m.RotationPeriod()
	assert.ErrorContains(t, err, "spec.rotationInterval")
	_, err = m.KeepPreviousPeriod()
	assert.ErrorContains(t, err, "spec.keepPrevious")
}
