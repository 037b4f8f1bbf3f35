package integration

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
)

func TestAV1beta1ObjectReadsBackAsV1WithDefaults(t *testing.T) {
	ns := kit.NewNamespace(t, "conv")
	old := &syncv1beta1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "seed"},
		Spec:       syncv1beta1.ConfigMapSyncSpec{SourceNamespace: ns, DestinationNamespace: "elsewhere", ConfigMapName: "app"},
	}
	kit.Create(t, old)

	v1 := &syncv1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(old), v1))
	assert.Equal(t, syncv1.SourceReference{Kind: syncv1.SourceKindConfigMap, Namespace: ns, Name: "app"}, v1.Spec.Source)
	assert.Equal(t, []string{"elsewhere"}, v1.Spec.Destination.Namespaces)
	assert.Equal(t, "5m", v1.Spec.SyncFrequency)
	assert.Equal(t, syncv1.SyncStrategyAutomatic, v1.Spec.SyncStrategy)
	assert.Equal(t, syncv1.DeletionPolicyDelete, v1.Spec.DeletionPolicy)

	again := &syncv1beta1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(old), again))
	assert.Equal(t, syncv1beta1.SyncStrategyAutomatic, again.Spec.SyncStrategy, "v1beta1 readers see their own spelling")
	assert.Equal(t, "elsewhere", again.Spec.DestinationNamespace)
}

func TestAV1ObjectSurvivesAnEditThroughV1beta1(t *testing.T) {
	ns := kit.NewNamespace(t, "conv")
	v1 := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rich"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source: syncv1.SourceReference{Kind: syncv1.SourceKindSecret, Name: "db-credentials",
				Keys: []syncv1.KeySelector{{Key: "password", As: "db-password"}, {Key: "*.crt"}}},
			Destination: syncv1.Destination{
				Namespaces:        []string{"team-b", "team-c"},
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "backend"}},
				ExcludeNamespaces: []string{"kube-*"},
				Name:              "db",
			},
			SyncStrategy:   syncv1.SyncStrategyManual,
			DeletionPolicy: syncv1.DeletionPolicyOrphan,
			ConflictPolicy: syncv1.ConflictPolicyAdopt,
		},
	}
	kit.Create(t, v1)
	stored := &syncv1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(v1), stored))

	old := &syncv1beta1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(v1), old))
	assert.Equal(t, "team-b", old.Spec.DestinationNamespace)
	assert.Equal(t, syncv1beta1.SyncStrategyManual, old.Spec.SyncStrategy)

	// A v1beta1 client edits the object: a label and the field it knows.
	update(t, old, func() {
		old.Labels = map[string]string{"edited-by": "v1beta1-client"}
		old.Spec.SyncFrequency = "1h"
	})

	after := &syncv1.ConfigMapSync{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(v1), after))
	want := stored.Spec.DeepCopy()
	want.SyncFrequency = "1h"
	assert.Equal(t, *want, after.Spec, "v1-only fields must survive a v1beta1 round trip")
	assert.Equal(t, "v1beta1-client", after.Labels["edited-by"])
	assert.NotContains(t, after.Annotations, syncv1beta1.ConversionDataAnnotation)
}

func TestTheSourceNamespaceDefaultsToTheObjectsNamespace(t *testing.T) {
	ns := kit.NewNamespace(t, "defaults")
	v1 := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "minimal"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "app"},
			Destination: syncv1.Destination{Namespaces: []string{"other"}},
		},
	}
	kit.Create(t, v1)
	assert.Equal(t, ns, v1.Spec.Source.Namespace)
	assert.Equal(t, syncv1.SourceKindConfigMap, v1.Spec.Source.Kind)
}

// invalidCase is one object the API server must refuse, with the field and rule its message must name.
type invalidCase struct {
	name    string
	obj     map[string]any
	field   string
	message string
}

func TestInvalidObjectsAreRejectedWithTheFieldAndRuleAndNothingIsStored(t *testing.T) {
	ns := kit.NewNamespace(t, "invalid")
	dst := map[string]any{"namespaces": []any{"team-b"}}
	src := map[string]any{"name": "app"}
	for _, tc := range []invalidCase{
		{"v1 bad source name", v1Spec(map[string]any{"source": map[string]any{"name": "Bad_Name"}, "destination": dst}),
			"spec.source.name", "should match"},
		{"v1 no destination", v1Spec(map[string]any{"source": src, "destination": map[string]any{}}),
			"spec.destination", "at least one of namespaces or namespaceSelector"},
		{"v1 unknown strategy", v1Spec(map[string]any{"source": src, "destination": dst, "syncStrategy": "Sometimes"}),
			"spec.syncStrategy", "supported values"},
		{"v1 unknown kind", v1Spec(map[string]any{"source": map[string]any{"name": "app", "kind": "Pod"}, "destination": dst}),
			"spec.source.kind", "supported values"},
		{"v1 duration out of range", v1Spec(map[string]any{"source": src, "destination": dst, "syncFrequency": "1s"}),
			"spec.syncFrequency", "between 10s and 24h"},
		{"v1 duration that does not parse", v1Spec(map[string]any{"source": src, "destination": dst, "syncFrequency": "often"}),
			"spec.syncFrequency", "should match"},
		{"v1 source is destination", v1Spec(map[string]any{"source": map[string]any{"name": "app", "namespace": "team-b"}, "destination": dst}),
			"spec.destination.namespaces[0]", "source namespace cannot also be a destination"},
		{"v1 too many destinations", v1Spec(map[string]any{"source": src, "destination": map[string]any{"namespaces": manyNamespaces(101)}}),
			"spec.destination.namespaces", "must have at most 100 items"},
		{"v1 exclusion that is no name or glob", v1Spec(map[string]any{"source": src, "destination": map[string]any{"namespaces": []any{"team-b"}, "excludeNamespaces": []any{"kube-[a-z]"}}}),
			"spec.destination.excludeNamespaces[0]", "should match"},
		{"v1beta1 bad strategy", v1beta1Spec(map[string]any{"sourceNamespace": "a", "destinationNamespace": "b", "configMapName": "c", "syncStrategy": "sometimes"}),
			"spec.syncStrategy", "supported values"},
		{"v1beta1 bad namespace", v1beta1Spec(map[string]any{"sourceNamespace": "A", "destinationNamespace": "b", "configMapName": "c"}),
			"spec.sourceNamespace", "should match"},
		{"v1beta1 source is destination", v1beta1Spec(map[string]any{"sourceNamespace": "b", "destinationNamespace": "b", "configMapName": "c"}),
			"spec.destination.namespaces[0]", "source namespace cannot also be a destination"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: tc.obj}
			obj.SetNamespace(ns)
			obj.SetName("invalid")
			err := k8s.Create(context.Background(), obj)
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err) || apierrors.IsForbidden(err), "got %v", err)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), tc.message)
			assert.True(t, kit.Absent(t, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "invalid"}}))
		})
	}
}

func TestTheSourceKindCannotChange(t *testing.T) {
	ns := kit.NewNamespace(t, "immutable")
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kind"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "app"},
			Destination: syncv1.Destination{Namespaces: []string{"other"}},
		},
	}
	kit.Create(t, cms)
	err := tryUpdate(cms, func() { cms.Spec.Source.Kind = syncv1.SourceKindSecret })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "source.kind is immutable")
}

func v1Spec(spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": syncv1.GroupVersion.String(), "kind": "ConfigMapSync", "spec": spec}
}

func v1beta1Spec(spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": syncv1beta1.GroupVersion.String(), "kind": "ConfigMapSync", "spec": spec}
}

func manyNamespaces(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "ns-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return out
}
