package rollout

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	return s
}

// fakeMetadata stands in for the metadata cache of workloads: List answers what the test added, by namespace.
type fakeMetadata struct {
	cache.Cache // nil: any other call panics, which is what a test should see
	mu          sync.Mutex
	items       []metav1.PartialObjectMetadata
}

func (f *fakeMetadata) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	l, ok := list.(*metav1.PartialObjectMetadataList)
	if !ok {
		return fmt.Errorf("fakeMetadata: unexpected list type %T", list)
	}
	kind := strings.TrimSuffix(l.GroupVersionKind().Kind, "List")
	o := (&client.ListOptions{}).ApplyOptions(opts)
	f.mu.Lock()
	defer f.mu.Unlock()
	l.Items = nil
	for _, item := range f.items {
		if item.Kind == kind && (o.Namespace == "" || item.Namespace == o.Namespace) {
			l.Items = append(l.Items, *item.DeepCopy())
		}
	}
	return nil
}

// addWorkload shows a Deployment's metadata in the fake metadata cache.
func (f *fakeMetadata) addWorkload(obj client.Object) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := metav1.PartialObjectMetadata{ObjectMeta: *obj.(metav1.ObjectMetaAccessor).GetObjectMeta().(*metav1.ObjectMeta).DeepCopy()}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	f.items = append(f.items, m)
}

// envDeployment returns a Deployment of namespace ns-a that reads the ConfigMap configMap through envFrom, created
// at created.
func envDeployment(name, configMap string, created time.Time) *appsv1.Deployment {
	const namespace = "ns-a"
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + namespace + "-" + name),
			Generation: 1, CreationTimestamp: metav1.Time{Time: created}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1",
					EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}}}},
			},
		},
	}
}

// countingEngine returns a rollout engine over a fake client holding objs, and the number of live workload reads
// it made so far.
func countingEngine(t *testing.T, md *fakeMetadata, objs ...client.Object) (Engine, *atomic.Int32) {
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
	md := &fakeMetadata{}
	for _, d := range []*appsv1.Deployment{older, newer, unrelated} {
		md.addWorkload(d)
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
	md := &fakeMetadata{}
	md.addWorkload(d)
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
