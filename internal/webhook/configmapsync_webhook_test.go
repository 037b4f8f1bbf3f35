package webhook

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// valid returns a defaulted ConfigMapSync that passes validation.
func valid() *syncv1.ConfigMapSync {
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "team-a"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "app-settings"},
			Destination: syncv1.Destination{Namespaces: []string{"team-b", "team-c"}},
		},
	}
	Default(cms)
	return cms
}

func TestDefaultFillsEveryDefault(t *testing.T) {
	cms := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a"}}
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(context.Background(), cms))
	assert.Equal(t, syncv1.SourceKindConfigMap, cms.Spec.Source.Kind)
	assert.Equal(t, "team-a", cms.Spec.Source.Namespace)
	assert.Equal(t, "5m", cms.Spec.SyncFrequency)
	assert.Equal(t, syncv1.SyncStrategyAutomatic, cms.Spec.SyncStrategy)
	assert.Equal(t, syncv1.DeletionPolicyDelete, cms.Spec.DeletionPolicy)
}

// TestDefaultLeavesTheFinalizerToTheController: the reconcile is the finalizer's one owner; the webhook neither adds
// it on create nor touches it on update (the controller removes it after cleanup).
func TestDefaultLeavesTheFinalizerToTheController(t *testing.T) {
	inRequest := func(op admissionv1.Operation) context.Context {
		return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{Operation: op}})
	}
	created := valid()
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(inRequest(admissionv1.Create), created))
	assert.Empty(t, created.Finalizers)

	updated := valid()
	updated.Finalizers = []string{syncv1.Finalizer}
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(inRequest(admissionv1.Update), updated))
	assert.Equal(t, []string{syncv1.Finalizer}, updated.Finalizers)
}

func TestDefaultKeepsWhatIsSet(t *testing.T) {
	cms := valid()
	cms.Spec.Source.Namespace = "shared"
	cms.Spec.SyncStrategy = syncv1.SyncStrategyManual
	cms.Spec.SyncFrequency = "1m"
	want := cms.DeepCopy()
	Default(cms)
	assert.Equal(t, want, cms)
}

func TestValidateAcceptsAValidObject(t *testing.T) {
	assert.Empty(t, Validate(valid(), nil))
	withSelector := valid()
	withSelector.Spec.Destination = syncv1.Destination{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}},
	}
	assert.Empty(t, Validate(withSelector, nil))
	renamedIntoSource := valid()
	renamedIntoSource.Spec.Destination = syncv1.Destination{Namespaces: []string{"team-a"}, Name: "copy"}
	assert.Empty(t, Validate(renamedIntoSource, nil), "a renamed copy may live beside its source")
}

func TestValidateNamesTheFieldAndTheRule(t *testing.T) {
	many := make([]string, syncv1.MaxDestinationNamespaces+1)
	for i := range many {
		many[i] = "ns-" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + "-" + string(rune('a'+i/26))
	}
	for name, tc := range map[string]struct {
		mutate    func(*syncv1.ConfigMapSync)
		field     string
		ruleWords string
	}{
		"source name not DNS-1123": {func(c *syncv1.ConfigMapSync) { c.Spec.Source.Name = "App_Settings" }, "spec.source.name", "RFC 1123"},
		"source name missing":      {func(c *syncv1.ConfigMapSync) { c.Spec.Source.Name = "" }, "spec.source.name", "Required"},
		"source namespace bad":     {func(c *syncv1.ConfigMapSync) { c.Spec.Source.Namespace = "a.b" }, "spec.source.namespace", "must not contain dots"},
		"unknown kind":             {func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = "Pod" }, "spec.source.kind", "supported values"},
		"no destination":           {func(c *syncv1.ConfigMapSync) { c.Spec.Destination = syncv1.Destination{} }, "spec.destination", "at least one"},
		"too many destinations":    {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = many }, "spec.destination.namespaces", "must have at most 100 items"},
		"bad destination":          {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = []string{"team-b", "Team_C"} }, "spec.destination.namespaces[1]", "RFC 1123"},
		"duplicate destination":    {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = []string{"x", "x"} }, "spec.destination.namespaces[1]", "Duplicate"},
		"source is a destination":  {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = []string{"team-a"} }, "spec.destination.namespaces[0]", "source namespace cannot also be a destination"},
		"bad copy name":            {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Name = "-x" }, "spec.destination.name", "RFC 1123"},
		"unknown copy kind":        {func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Kind = "Pod" }, "spec.destination.kind", "supported values"},
		"a Secret into ConfigMaps": {func(c *syncv1.ConfigMapSync) {
			c.Spec.Source.Kind, c.Spec.Destination.Kind = syncv1.SourceKindSecret, syncv1.SourceKindConfigMap
		}, "spec.destination.kind", "a Secret is never copied into ConfigMaps"},
		"bad selector": {func(c *syncv1.ConfigMapSync) {
			c.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}}
		}, "spec.destination.namespaceSelector.matchLabels", "Invalid value"},
		"empty selector": {func(c *syncv1.ConfigMapSync) {
			c.Spec.Destination = syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{}}
		}, "spec.destination.namespaceSelector", "would select every namespace"},
		"frequency too short":      {func(c *syncv1.ConfigMapSync) { c.Spec.SyncFrequency = "1s" }, "spec.syncFrequency", "between 10s and 24h"},
		"frequency too long":       {func(c *syncv1.ConfigMapSync) { c.Spec.SyncFrequency = "25h" }, "spec.syncFrequency", "between 10s and 24h"},
		"frequency not a duration": {func(c *syncv1.ConfigMapSync) { c.Spec.SyncFrequency = "often" }, "spec.syncFrequency", "must be a duration"},
		"unknown strategy":         {func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = "automatic" }, "spec.syncStrategy", "supported values"},
		"unknown deletion policy":  {func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = "Keep" }, "spec.deletionPolicy", "supported values"},
	} {
		t.Run(name, func(t *testing.T) {
			cms := valid()
			tc.mutate(cms)
			err := invalid(cms, Validate(cms, nil))
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "want an Invalid status error, got %v", err)
			assert.Contains(t, err.Error(), tc.field)
			assert.Contains(t, err.Error(), tc.ruleWords)
		})
	}
}

func TestDestinationKindIsImmutableFromCreation(t *testing.T) {
	old := valid()
	for _, tc := range []struct{ before, after syncv1.SourceKind }{
		{"", syncv1.SourceKindSecret}, {syncv1.SourceKindSecret, ""}, {syncv1.SourceKindConfigMap, syncv1.SourceKindSecret},
	} {
		old.Spec.Destination.Kind = tc.before
		changed := valid()
		changed.Spec.Destination.Kind = tc.after
		err := invalid(changed, Validate(changed, old))
		require.Error(t, err, "%+v", tc)
		assert.Contains(t, err.Error(), "spec.destination.kind: Forbidden: is immutable")
	}
	old.Spec.Destination.Kind = syncv1.SourceKindSecret
	same := valid()
	same.Spec.Destination.Kind = syncv1.SourceKindSecret
	assert.Empty(t, Validate(same, old))
}

func TestASecretCopyOfAConfigMapMayLiveBesideItsSource(t *testing.T) {
	// The same name in the source's namespace is another object when the kind differs: a CA bundle's ConfigMap
	// copied into a Secret of the same name, next to it.
	cms := valid()
	cms.Spec.Destination.Kind = syncv1.SourceKindSecret
	cms.Spec.Destination.Namespaces = []string{"team-a", "team-b"}
	assert.Empty(t, Validate(cms, nil))
}

func TestSourceKindIsImmutable(t *testing.T) {
	old := valid()
	changed := valid()
	changed.Spec.Source.Kind = syncv1.SourceKindSecret
	err := invalid(changed, Validate(changed, old))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.source.kind: Forbidden: is immutable")
	assert.Empty(t, Validate(valid(), old))
}
