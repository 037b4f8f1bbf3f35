package v1beta1

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/randfill"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// roundTrips is how many random objects each fuzz round trip converts.
const roundTrips = 2000

// newFiller returns a filler that produces objects the API server could hold: enums take one of their values
// (the schema rejects others), everything else is random.
func newFiller(t *testing.T) *randfill.Filler {
	seed := time.Now().UnixNano()
	t.Logf("fuzz seed %d", seed)
	scheme := runtime.NewScheme()
	require.NoError(t, AddToScheme(scheme))
	require.NoError(t, syncv1.AddToScheme(scheme))
	funcs := fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, func(serializer.CodecFactory) []any {
		return []any{
			func(s *SyncStrategy, c randfill.Continue) {
				*s = []SyncStrategy{"", SyncStrategyAutomatic, SyncStrategyManual}[c.Intn(3)]
			},
			func(s *syncv1.SyncStrategy, c randfill.Continue) {
				*s = []syncv1.SyncStrategy{"", syncv1.SyncStrategyAutomatic, syncv1.SyncStrategyManual}[c.Intn(3)]
			},
			func(k *syncv1.SourceKind, c randfill.Continue) {
				*k = []syncv1.SourceKind{"", syncv1.SourceKindConfigMap, syncv1.SourceKindSecret}[c.Intn(3)]
			},
			func(p *syncv1.DeletionPolicy, c randfill.Continue) {
				*p = []syncv1.DeletionPolicy{"", syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan}[c.Intn(3)]
			},
			func(o *metav1.ObjectMeta, c randfill.Continue) {
				c.FillNoCustom(o)
				// Spokes that come from the API server never carry a stale conversion annotation of their own.
				delete(o.Annotations, ConversionDataAnnotation)
			},
		}
	})
	return fuzzer.FuzzerFor(funcs, rand.NewSource(seed), serializer.NewCodecFactory(scheme))
}

func TestFuzzHubToSpokeToHubIsLossless(t *testing.T) {
	f := newFiller(t)
	for range roundTrips {
		hub := &syncv1.ConfigMapSync{}
		f.Fill(hub)
		spoke := &ConfigMapSync{}
		require.NoError(t, spoke.ConvertFrom(hub.DeepCopy()))
		back := &syncv1.ConfigMapSync{}
		require.NoError(t, spoke.DeepCopy().ConvertTo(back))
		if !apiequality.Semantic.DeepEqual(hub, back) {
			t.Fatalf("v1 -> v1beta1 -> v1 changed the object:\n%s", diff.Diff(hub, back))
		}
	}
}

func TestFuzzSpokeToHubToSpokeIsLossless(t *testing.T) {
	f := newFiller(t)
	for range roundTrips {
		spoke := &ConfigMapSync{}
		f.Fill(spoke)
		hub := &syncv1.ConfigMapSync{}
		require.NoError(t, spoke.DeepCopy().ConvertTo(hub))
		back := &ConfigMapSync{}
		require.NoError(t, back.ConvertFrom(hub))
		if !apiequality.Semantic.DeepEqual(spoke, back) {
			t.Fatalf("v1beta1 -> v1 -> v1beta1 changed the object:\n%s", diff.Diff(spoke, back))
		}
	}
}

func TestConversionMapsTheSeedFieldsOntoV1(t *testing.T) {
	spoke := &ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "team-a"},
		Spec: ConfigMapSyncSpec{
			SourceNamespace: "team-a", DestinationNamespace: "team-b", ConfigMapName: "settings",
			SyncFrequency: "1m", SyncStrategy: SyncStrategyManual,
		},
	}
	hub := &syncv1.ConfigMapSync{}
	require.NoError(t, spoke.ConvertTo(hub))
	assert.Equal(t, syncv1.SourceReference{Kind: syncv1.SourceKindConfigMap, Namespace: "team-a", Name: "settings"}, hub.Spec.Source)
	assert.Equal(t, syncv1.DeletionPolicyDelete, hub.Spec.DeletionPolicy)
	assert.Equal(t, []string{"team-b"}, hub.Spec.Destination.Namespaces)
	assert.Equal(t, syncv1.SyncStrategyManual, hub.Spec.SyncStrategy)
	assert.Equal(t, "1m", hub.Spec.SyncFrequency)
	assert.NotContains(t, hub.Annotations, ConversionDataAnnotation)
}

func TestV1OnlyFieldsAreKeptInAnAnnotationAndEditsInV1beta1Win(t *testing.T) {
	hub := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "team-a"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source: syncv1.SourceReference{Kind: syncv1.SourceKindSecret, Namespace: "team-a", Name: "db"},
			Destination: syncv1.Destination{
				Namespaces:        []string{"b", "c"},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}},
			},
			DeletionPolicy: syncv1.DeletionPolicyOrphan,
		},
	}
	spoke := &ConfigMapSync{}
	require.NoError(t, spoke.ConvertFrom(hub.DeepCopy()))
	assert.Equal(t, "b", spoke.Spec.DestinationNamespace)
	assert.Contains(t, spoke.Annotations, ConversionDataAnnotation)

	// A v1beta1 client changes the fields it knows about; the v1-only fields survive.
	spoke.Spec.DestinationNamespace = "z"
	spoke.Spec.ConfigMapName = "db2"
	back := &syncv1.ConfigMapSync{}
	require.NoError(t, spoke.ConvertTo(back))
	assert.Equal(t, []string{"z", "c"}, back.Spec.Destination.Namespaces)
	assert.Equal(t, "db2", back.Spec.Source.Name)
	assert.Equal(t, syncv1.SourceKindSecret, back.Spec.Source.Kind)
	assert.Equal(t, hub.Spec.Destination.NamespaceSelector, back.Spec.Destination.NamespaceSelector)
	assert.Equal(t, syncv1.DeletionPolicyOrphan, back.Spec.DeletionPolicy)
	assert.NotContains(t, back.Annotations, ConversionDataAnnotation)
}

func TestACorruptConversionAnnotationIsAnError(t *testing.T) {
	spoke := &ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ConversionDataAnnotation: "{"}}}
	err := spoke.ConvertTo(&syncv1.ConfigMapSync{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), ConversionDataAnnotation)
}
