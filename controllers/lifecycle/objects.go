package lifecycle

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// KindName returns "ConfigMap" or "Secret" for a copy.
func KindName(obj client.Object) string {
	switch o := obj.(type) {
	case *corev1.Secret:
		return syncer.KindSecret
	case *syncer.View:
		return o.Kind()
	case *metav1.PartialObjectMetadata:
		if o.Kind == syncer.KindSecret {
			return syncer.KindSecret
		}
	}
	return syncer.KindConfigMap
}

// Describe names an object for errors and logs: kind, namespace and name, never data.
func Describe(obj client.Object) string {
	return fmt.Sprintf("%s %s/%s", KindName(obj), obj.GetNamespace(), obj.GetName())
}

// metaEach calls fn for every item of a typed list.
func metaEach(list client.ObjectList, fn func(client.Object)) error {
	return meta.EachListItem(list, func(o runtime.Object) error {
		fn(o.(client.Object))
		return nil
	})
}

// asMetadata returns obj as the metadata-only object the client can delete or patch: a view is not a type the
// client knows, and nothing but its identity is needed.
func asMetadata(obj client.Object) client.Object {
	v, ok := obj.(*syncer.View)
	if !ok {
		return obj
	}
	m := MetadataOf(v.Kind())
	m.Namespace, m.Name, m.UID, m.ResourceVersion = v.GetNamespace(), v.GetName(), v.GetUID(), v.GetResourceVersion()
	return m
}

// ResourceOf returns the resource of the ConfigMap or Secret kind.
func ResourceOf(kind string) schema.GroupVersionResource {
	return corev1.SchemeGroupVersion.WithResource(strings.ToLower(kind) + "s")
}

// MetadataOf returns an empty metadata-only object of a core kind (Namespace, ConfigMap, Secret).
func MetadataOf(kind string) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
	return m
}
