// Package operator wires the operator's controllers into a manager. main.go and the tests call the same functions,
// so the tests run the operator exactly as it ships.
package operator

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/controllers"
	"github.com/configmapsync/configmapsync-operator/internal/migration"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/webhook"
)

// Name is the operator's name in events, leases and field managers.
const Name = "configmapsync-operator"

// ConfigMapSyncCRD is the name of the ConfigMapSync CustomResourceDefinition.
const ConfigMapSyncCRD = "configmapsyncs.sync.configmapsync.io"

// Options selects the optional parts of the operator.
type Options struct {
	// Webhooks serves the conversion, defaulting and validating webhooks. Off only for running the operator
	// from a laptop against a cluster whose CRDs do not call webhooks.
	Webhooks bool
}

// NewScheme returns a scheme with the Kubernetes types and every version of the operator's API.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, syncv1.AddToScheme, syncv1beta1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err) // Only a programming error makes registering static types fail.
		}
	}
	return s
}

// CacheOptions limits the manager's cache to what the operator owns: ConfigMaps are cached only when they carry
// the operator's managed-by label, and managedFields are dropped from everything. Reading any other ConfigMap
// through the cached client finds nothing; sources are read with the API reader instead.
func CacheOptions() cache.Options {
	owned := labels.SelectorFromSet(labels.Set{syncer.ManagedByLabel: syncer.ManagedByValue})
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Label: owned},
		},
	}
}

// Setup adds the operator's controllers, webhooks and the stored-version migration to mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	sources, err := newSourceCache(mgr)
	if err != nil {
		return err
	}
	r := &controllers.ConfigMapSyncReconciler{
		Client:      mgr.GetClient(),
		APIReader:   mgr.GetAPIReader(),
		SourceCache: sources,
		Recorder:    mgr.GetEventRecorder(Name),
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up the ConfigMapSync controller: %w", err)
	}
	if opts.Webhooks {
		if err := webhook.SetupConfigMapSyncWebhook(mgr); err != nil {
			return fmt.Errorf("setting up the ConfigMapSync webhooks: %w", err)
		}
	}
	return mgr.Add(&migration.StoredVersions{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder(Name),
		CRD:      ConfigMapSyncCRD,
	})
}

// newSourceCache returns a cache, started by mgr, that watches the metadata of every ConfigMap in the cluster.
// It is separate from the manager's cache because that one only sees the operator's labelled copies. Each entry
// is cut down to its identity and resourceVersion: that is all the source watch needs to notice a change, and it
// keeps the operator's memory flat however many ConfigMaps the cluster holds.
func newSourceCache(mgr ctrl.Manager) (cache.Cache, error) {
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: keepIdentityOnly,
	})
	if err != nil {
		return nil, fmt.Errorf("creating the source metadata cache: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, fmt.Errorf("adding the source metadata cache: %w", err)
	}
	return c, nil
}

// keepIdentityOnly drops everything from a cached object's metadata except what identifies it and its version.
var keepIdentityOnly toolscache.TransformFunc = func(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	obj.SetLabels(nil)
	obj.SetAnnotations(nil)
	obj.SetManagedFields(nil)
	obj.SetOwnerReferences(nil)
	obj.SetFinalizers(nil)
	return obj, nil
}
