// Package testkit holds what the operator's tests share: a write tap for a controller-runtime client (the unit
// tests' fake client, the integration harness's real one), a fake metadata cache, and the workloads rollouts
// restart. Only tests import it.
package testkit

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
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// WriteTap returns the fake client's interceptors that call tap before every write of an object: create, update,
// patch, delete, deleteAllOf, and the subresources' "<subresource>-patch" and "<subresource>-update". An error from
// tap is the write's answer and the write does not reach the client. Every write verb is tapped, so a test that
// says "writes nothing" fails on a write of any kind.
func WriteTap(tap func(verb string, obj client.Object) error) interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return unlessTapped(tap("create", obj), func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return unlessTapped(tap("update", obj), func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			return unlessTapped(tap("patch", obj), func() error { return c.Patch(ctx, obj, p, opts...) })
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return unlessTapped(tap("delete", obj), func() error { return c.Delete(ctx, obj, opts...) })
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			return unlessTapped(tap("deleteAllOf", obj), func() error { return c.DeleteAllOf(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			return unlessTapped(tap(sub+"-patch", obj), func() error { return c.SubResource(sub).Patch(ctx, obj, p, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return unlessTapped(tap(sub+"-update", obj), func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
	}
}

// unlessTapped returns the tap's error, or else does the write.
func unlessTapped(tapped error, write func() error) error {
	if tapped != nil {
		return tapped
	}
	return write()
}

// Metadata stands in for the operator's metadata cache. It answers List of PartialObjectMetadata with what the
// test added, of the list's kind, filtered by namespace. Any other call panics, which is what a test should see.
type Metadata struct {
	cache.Cache // nil
	mu          sync.Mutex
	items       []metav1.PartialObjectMetadata
}

// List lists the items of the list's kind the test added.
func (f *Metadata) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	l, ok := list.(*metav1.PartialObjectMetadataList)
	if !ok {
		return fmt.Errorf("testkit.Metadata: unexpected list type %T", list)
	}
	listGVK := l.GroupVersionKind()
	if !strings.HasSuffix(listGVK.Kind, "List") {
		return fmt.Errorf("testkit.Metadata: unexpected list kind %v", listGVK)
	}
	itemGVK := listGVK.GroupVersion().WithKind(strings.TrimSuffix(listGVK.Kind, "List"))
	o := (&client.ListOptions{}).ApplyOptions(opts)
	f.mu.Lock()
	defer f.mu.Unlock()
	l.Items = nil
	for _, item := range f.items {
		if item.GroupVersionKind() == itemGVK && (o.Namespace == "" || item.Namespace == o.Namespace) {
			l.Items = append(l.Items, *item.DeepCopy())
		}
	}
	return nil
}

// AddNamespace shows a namespace with labels, terminating or not.
func (f *Metadata) AddNamespace(name string, labels map[string]string, terminating bool) {
	ns := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if terminating {
		now := metav1.Now()
		ns.DeletionTimestamp = &now
		ns.Finalizers = []string{"kubernetes"}
	}
	f.add(ns)
}

// AddDeployment shows a Deployment's metadata.
func (f *Metadata) AddDeployment(d *appsv1.Deployment) {
	m := metav1.PartialObjectMetadata{ObjectMeta: *d.ObjectMeta.DeepCopy()}
	m.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	f.add(m)
}

func (f *Metadata) add(m metav1.PartialObjectMetadata) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, m)
}

// ConfigMapEnv is an envFrom of the ConfigMap name.
func ConfigMapEnv(name string) corev1.EnvFromSource {
	return corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
}

// SecretEnv is an envFrom of the Secret name.
func SecretEnv(name string) corev1.EnvFromSource {
	return corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}
}

// Deployment returns a Deployment of namespace whose container reads env through envFrom, created at created: a
// workload a rollout restarts when what it reads changes.
func Deployment(namespace, name string, env corev1.EnvFromSource, created time.Time) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + namespace + "-" + name),
			Generation: 1, CreationTimestamp: metav1.Time{Time: created}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1",
					EnvFrom: []corev1.EnvFromSource{env}}}},
			},
		},
	}
}
