package controllers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

var (
	namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
)

// sourceNamespace returns the namespace of the source, which defaults to the ConfigMapSync's own.
func sourceNamespace(cms *syncv1.ConfigMapSync) string {
	if cms.Spec.Source.Namespace != "" {
		return cms.Spec.Source.Namespace
	}
	return cms.Namespace
}

// sourceKind returns the kind of the source, which defaults to ConfigMap.
func sourceKind(cms *syncv1.ConfigMapSync) syncv1.SourceKind {
	if cms.Spec.Source.Kind == "" {
		return syncv1.SourceKindConfigMap
	}
	return cms.Spec.Source.Kind
}

// copyName returns the name of the copies: destination.name, or the source's name.
func copyName(cms *syncv1.ConfigMapSync, sourceName string) string {
	if cms.Spec.Destination.Name != "" {
		return cms.Spec.Destination.Name
	}
	return sourceName
}

// syncFrequency returns how long to wait before the next resync of an unchanged source.
func syncFrequency(cms *syncv1.ConfigMapSync) time.Duration {
	d, err := time.ParseDuration(cms.Spec.SyncFrequency)
	if err != nil || d <= 0 {
		d, _ = time.ParseDuration(syncv1.DefaultSyncFrequency)
	}
	return d
}

// kindName returns "ConfigMap" or "Secret" for a copy.
func kindName(obj client.Object) string {
	switch o := obj.(type) {
	case *corev1.Secret:
		return syncer.KindSecret
	case *metav1.PartialObjectMetadata:
		if o.Kind == syncer.KindSecret {
			return syncer.KindSecret
		}
	}
	return syncer.KindConfigMap
}

// describe names an object for errors and logs: kind, namespace and name, never data.
func describe(obj client.Object) string {
	return fmt.Sprintf("%s %s/%s", kindName(obj), obj.GetNamespace(), obj.GetName())
}

// metaEach calls fn for every item of a typed list.
func metaEach(list client.ObjectList, fn func(client.Object)) error {
	return meta.EachListItem(list, func(o runtime.Object) error {
		fn(o.(client.Object))
		return nil
	})
}
