package managedsecret

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// testKeys are the ownership keys of the unit tests' reconcilers.
var testKeys = syncer.Keys{Current: syncer.NewKey([]byte("unit-test-ownership-key-32-bytes"))}

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
func (f *fakeMetadata) addWorkload(d *appsv1.Deployment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := metav1.PartialObjectMetadata{ObjectMeta: *d.ObjectMeta.DeepCopy()}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	f.items = append(f.items, m)
}

// secretDeployment returns a Deployment of namespace that reads the Secret secret through envFrom, created at
// created.
func secretDeployment(namespace, name, secret string, created time.Time) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + namespace + "-" + name),
			Generation: 1, CreationTimestamp: metav1.Time{Time: created}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1",
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}}}},
			},
		},
	}
}
