package rollout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	return s
}

// envDeployment returns a Deployment of namespace ns-a that reads the ConfigMap configMap through envFrom, created
// at created.
func envDeployment(name, configMap string, created time.Time) *appsv1.Deployment {
	return testkit.Deployment("ns-a", name, testkit.ConfigMapEnv(configMap), created)
}

// countingEngine returns a rollout engine over a fake client holding objs, and the number of live workload reads
// it made so far.
func countingEngine(t *testing.T, md *testkit.Metadata, objs ...client.Object) (Engine, *atomic.Int32) {
	t.Helper()
	var reads atomic.Int32
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*appsv1.Deployment); ok {
				reads.Add(1)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	return Engine{Patcher: c, Reader: c, Metadata: md, Workloads: &Memo{}}, &reads
}

func TestRollouts_ReadOnlyWorkloadsThatMayBeOwedAndEachOnlyOnce(t *testing.T) {
	changed := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	older := envDeployment("older", "settings", changed.Add(-time.Hour))
	newer := envDeployment("newer", "settings", changed.Add(time.Minute))
	unrelated := envDeployment("unrelated", "other", changed.Add(-time.Hour))
	md := &testkit.Metadata{}
	for _, d := range []*appsv1.Deployment{older, newer, unrelated} {
		md.AddDeployment(d)
	}
	engine, reads := countingEngine(t, md, older, newer, unrelated)
	copyA := Written{Namespace: "ns-a", Kind: syncer.KindConfigMap, Name: "settings",
		Version: syncer.CopyVersion{Token: "t1", ChangedAt: changed}}
	policy := syncv1.RolloutPolicy{Enabled: true, Debounce: "30s"}

	pass := engine.Run(t.Context(), policy, []Written{copyA}, time.Now())
	require.NoError(t, pass.Err)
	assert.Equal(t, 1, pass.Restarted)
	assert.Equal(t, int32(2), reads.Load(), "the workload created after the change is not read")

	pass = engine.Run(t.Context(), policy, []Written{copyA}, time.Now())
	require.NoError(t, pass.Err)
	assert.Zero(t, pass.Restarted, "nothing is restarted twice for one change")
	assert.Equal(t, int32(2), reads.Load(), "a workload read once at its generation is not read again")

	empty := Written{Namespace: "ns-empty", Kind: syncer.KindConfigMap, Name: "settings", Version: copyA.Version}
	never := Written{Namespace: "ns-a", Kind: syncer.KindConfigMap, Name: "settings", Version: syncer.CopyVersion{Token: "t0"}}
	engine.Workloads = nil
	pass = engine.Run(t.Context(), policy, []Written{empty, never}, time.Now())
	require.NoError(t, pass.Err)
	assert.Zero(t, pass.Restarted)
	assert.Equal(t, int32(2), reads.Load(), "a namespace without candidates, and a copy whose content never changed, cost no read")
}

func TestRollouts_ADebouncedRestartWaitsAndIsMadeAtTheEndOfTheWindow(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	d := envDeployment("app", "settings", now.Add(-time.Hour))
	d.Annotations = map[string]string{syncv1.LastRolloutAnnotation: now.Add(-10 * time.Second).Format(time.RFC3339)}
	md := &testkit.Metadata{}
	md.AddDeployment(d)
	engine, _ := countingEngine(t, md, d)
	c := Written{Namespace: "ns-a", Kind: syncer.KindConfigMap, Name: "settings",
		Version: syncer.CopyVersion{Token: "t2", ChangedAt: now.Add(-5 * time.Second)}}
	policy := syncv1.RolloutPolicy{Enabled: true, Debounce: "30s"}

	pass := engine.Run(t.Context(), policy, []Written{c}, now)
	require.NoError(t, pass.Err)
	assert.Zero(t, pass.Restarted)
	assert.Equal(t, 20*time.Second, pass.Wait)
	assert.Equal(t, []string{"ns-a"}, pass.Pending)

	pass = engine.Run(t.Context(), policy, []Written{c}, now.Add(20*time.Second))
	require.NoError(t, pass.Err)
	assert.Equal(t, 1, pass.Restarted)
	assert.Empty(t, pass.Pending)
}
