// Package operator wires the operator's controllers into a manager. main.go and the tests call the same functions,
// so the tests run the operator exactly as it ships.
package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/controllers/configmapsync"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/controllers/managedsecret"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/metawatch"
	"github.com/configmapsync/configmapsync-operator/internal/metawrite"
	"github.com/configmapsync/configmapsync-operator/internal/migration"
	"github.com/configmapsync/configmapsync-operator/internal/monitoring"
	"github.com/configmapsync/configmapsync-operator/internal/ownership"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/webhook"
)

// Name is the operator's name in events, leases and field managers.
const Name = "configmapsync-operator"

// ConfigMapSyncCRD is the name of the ConfigMapSync CustomResourceDefinition.
const ConfigMapSyncCRD = "configmapsyncs.sync.configmapsync.io"

// LeaderElectionID names the Lease the replicas elect their leader with. Tests, the bench and the alert rules find
// the leader by it.
const LeaderElectionID = "configmapsync-operator.sync.configmapsync.io"

// Options selects the optional parts of the operator and tunes it.
type Options struct {
	// Webhooks serves the conversion, defaulting and validating webhooks. Off only for running the operator
	// from a laptop against a cluster whose CRDs do not call webhooks.
	Webhooks bool
	// Controller tunes concurrency and retries of each controller, ConfigMapSync and ManagedSecret alike.
	Controller lifecycle.Options
	// MaxParallelWrites bounds the copies one sync writes at once.
	MaxParallelWrites int
	// ExcludedNamespaces holds names and globs of namespaces no ConfigMapSync may write to.
	ExcludedNamespaces []string
	// Namespace is the operator's own namespace, where the ownership key Secret lives (internal/ownership). Only
	// cluster admins may read Secrets there.
	Namespace string
	// MonitoringNamespace is the operator's namespace, where it installs its ServiceMonitor and PrometheusRule when
	// the cluster has the Prometheus Operator's CRDs (internal/monitoring). Empty: it installs none.
	MonitoringNamespace string
	// AccessRecheckTTL is how long the re-check of requesters' rights reuses a decision; 0 is access.RecheckTTL.
	AccessRecheckTTL time.Duration
}

// DefaultOptions are the defaults of main.go's flags.
func DefaultOptions() Options {
	return Options{
		Webhooks:          true,
		Namespace:         "default", // Out of a cluster (make run, make demo); in one, POD_NAMESPACE.
		Controller:        lifecycle.Options{MaxConcurrentReconciles: 4, RetryBaseDelay: 500 * time.Millisecond, RetryMaxDelay: 5 * time.Minute},
		MaxParallelWrites: 16,
	}
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

// CacheOptions drops managedFields from everything the manager caches. The manager caches no ConfigMap and no
// Secret (ClientOptions): the objects labelled as the operator's are kept as views by internal/copystore, without
// data, and everything else is read live.
func CacheOptions() cache.Options {
	return cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
}

// ClientOptions makes the manager's client read ConfigMaps and Secrets from the API server, never from a cache: a
// cached read would start an informer over every ConfigMap or Secret in the cluster, data included.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.ConfigMap{}, &corev1.Secret{}}}}
}

// Parts are the pieces of a set-up operator that its callers may read: the copy store, what the operator holds in
// memory of the objects labelled as its own.
type Parts struct {
	Copies *copystore.Store
}

// Setup adds the operator's controllers, webhooks and the stored-version migration to mgr. Copies are written
// with NewCopyWriter's writer.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) (Parts, error) {
	writer, err := NewCopyWriter(mgr)
	if err != nil {
		return Parts{}, err
	}
	return SetupWithCopyWriter(ctx, mgr, opts, writer)
}

// NewCopyWriter returns the writer of ConfigMapSyncs' copies: internal/metawrite over the manager's connections,
// which reads back only the metadata of what it wrote. It bypasses the manager's client.
func NewCopyWriter(mgr ctrl.Manager) (configmapsync.Writer, error) {
	w, err := metawrite.New(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, err
	}
	return w, nil
}

// SetupWithCopyWriter is Setup with the writer of copies given. The writer is a dependency like the manager's
// client, which its builder may wrap: the test harness passes NewCopyWriter's, wrapped to record and fail writes,
// as it wraps the client it builds for the manager.
func SetupWithCopyWriter(ctx context.Context, mgr ctrl.Manager, opts Options, writer configmapsync.Writer) (Parts, error) {
	copies, err := setup(ctx, mgr, opts, writer)
	return Parts{Copies: copies}, err
}

func setup(ctx context.Context, mgr ctrl.Manager, opts Options, writer configmapsync.Writer) (*copystore.Store, error) {
	metadataCache, err := newMetadataCache(mgr)
	if err != nil {
		return nil, err
	}
	metadataClient, err := metadata.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the metadata client: %w", err)
	}
	sources := metawatch.New(metadataClient)
	keys, err := loadKeys(ctx, mgr, opts.Namespace)
	if err != nil {
		return nil, err
	}
	watcher, err := client.NewWithWatch(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), HTTPClient: mgr.GetHTTPClient(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("creating the copy store's client: %w", err)
	}
	copies := copystore.New(watcher, keys.Keys)
	r := &configmapsync.Reconciler{
		Client:              mgr.GetClient(),
		Writer:              writer,
		Copies:              copies,
		AcceptUnprovenUntil: keys.AcceptUnprovenUntil,
		APIReader:           mgr.GetAPIReader(),
		Metadata:            metadataCache,
		Sources:             sources,
		Recorder:            mgr.GetEventRecorder(Name),
		MaxParallelWrites:   opts.MaxParallelWrites,
		ExcludedNamespaces:  opts.ExcludedNamespaces,
		// Sources of up to 64 KiB are kept while unchanged, 4 MiB in all: the resync of 10,000 syncs of one
		// source reads it once.
		SourceCacheBytes: 4 << 20,
		Access:           access.NewRechecker(mgr.GetClient(), opts.AccessRecheckTTL),
	}
	if err := r.SetupWithManager(ctx, mgr, opts.Controller); err != nil {
		return nil, fmt.Errorf("setting up the ConfigMapSync controller: %w", err)
	}
	managedSecrets := &managedsecret.Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Sources:   sources,
		Metadata:  metadataCache,
		Recorder:  mgr.GetEventRecorder(Name),
		Copies:    copies,

		AcceptUnprovenUntil: keys.AcceptUnprovenUntil,
	}
	if err := managedSecrets.SetupWithManager(ctx, mgr, opts.Controller); err != nil {
		return nil, fmt.Errorf("setting up the ManagedSecret controller: %w", err)
	}
	if opts.Webhooks {
		if err := webhook.SetupConfigMapSyncWebhook(mgr); err != nil {
			return nil, fmt.Errorf("setting up the ConfigMapSync webhooks: %w", err)
		}
		if err := webhook.SetupManagedSecretWebhook(mgr); err != nil {
			return nil, fmt.Errorf("setting up the ManagedSecret webhook: %w", err)
		}
	}
	if opts.MonitoringNamespace != "" {
		if err := addMonitoring(mgr, opts.MonitoringNamespace); err != nil {
			return nil, err
		}
	}
	return copies, mgr.Add(&migration.StoredVersions{
		Client:   mgr.GetClient(),
		Reader:   mgr.GetAPIReader(),
		Recorder: mgr.GetEventRecorder(Name),
		CRD:      ConfigMapSyncCRD,
	})
}

// loadKeys reads (or, on the first start, creates) the ownership key in namespace, before the manager starts: every
// replica reads the same key, so any of them can check what another signed.
func loadKeys(ctx context.Context, mgr ctrl.Manager, namespace string) (ownership.Keys, error) {
	if namespace == "" {
		return ownership.Keys{}, errors.New("no namespace for the ownership key: set --operator-namespace or POD_NAMESPACE")
	}
	c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), HTTPClient: mgr.GetHTTPClient()})
	if err != nil {
		return ownership.Keys{}, err
	}
	keys, err := ownership.Load(ctx, c, namespace, ownership.CopiesExist(c))
	if err != nil {
		return ownership.Keys{}, err
	}
	if keys.AcceptsUnproven(time.Now()) {
		mgr.GetLogger().Info("Accepting copies without an ownership proof at their owners' destinations (upgrade window)",
			"until", keys.AcceptUnprovenUntil, "secret", namespace+"/"+ownership.SecretName)
	}
	return keys, nil
}

// addMonitoring adds the installer of the ServiceMonitor and PrometheusRule in namespace.
func addMonitoring(mgr ctrl.Manager, namespace string) error {
	disco, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("creating the discovery client: %w", err)
	}
	return mgr.Add(&monitoring.Installer{
		Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Discovery: disco, Namespace: namespace,
		FieldOwner: Name, Interval: monitoring.DefaultInterval, Log: mgr.GetLogger().WithName("monitoring"),
	})
}

// newMetadataCache returns a cache, started by mgr, for the metadata of Namespaces and workloads. It is separate
// from the manager's cache because that one only sees the operator's labelled copies. Namespaces keep their labels,
// which selectors match; workloads only their rollout opt-in annotation. ConfigMaps and Secrets are not cached
// here at all (the controllers watch them store-less, see internal/metawatch), so the operator's memory does not
// grow with the unrelated ones in the cluster.
func newMetadataCache(mgr ctrl.Manager) (cache.Cache, error) {
	namespace := &metav1.PartialObjectMetadata{}
	namespace.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		HTTPClient:       mgr.GetHTTPClient(),
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: keepIdentityOnly,
		ByObject: map[client.Object]cache.ByObject{
			namespace: {Transform: cache.TransformStripManagedFields()},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the metadata cache: %w", err)
	}
	// Workloads are watched for their rollout opt-in annotation only; their informers start with the cache.
	for _, kind := range syncer.WorkloadKinds {
		w := &metav1.PartialObjectMetadata{}
		w.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind))
		if _, err := c.GetInformer(context.Background(), w, cache.BlockUntilSynced(false)); err != nil {
			return nil, fmt.Errorf("watching %s metadata: %w", kind, err)
		}
	}

	if err := mgr.Add(cacheRunnable{c}); err != nil {
		return nil, fmt.Errorf("adding the metadata cache: %w", err)
	}
	return c, nil
}

// cacheRunnable makes the manager run a cache as it runs its own: on every replica, before leader election, and
// synced before any controller starts. Added as a plain runnable, a cache starts only on the leader, and a
// follower's warm-up watch of namespaces waited on it until it timed out and the process exited.
type cacheRunnable struct{ cache.Cache }

// GetCache returns the cache; the manager runs runnables that have one with its caches.
func (c cacheRunnable) GetCache() cache.Cache { return c.Cache }

// keepIdentityOnly drops everything from a cached object's metadata except what identifies it and its version,
// and the rollout opt-in annotation of workloads.
var keepIdentityOnly toolscache.TransformFunc = func(in any) (any, error) {
	obj, ok := in.(client.Object)
	if !ok {
		return in, nil
	}
	obj.SetLabels(nil)
	if optIn, ok := obj.GetAnnotations()[syncv1.RolloutOptInAnnotation]; ok {
		obj.SetAnnotations(map[string]string{syncv1.RolloutOptInAnnotation: optIn})
	} else {
		obj.SetAnnotations(nil)
	}
	obj.SetManagedFields(nil)
	obj.SetOwnerReferences(nil)
	obj.SetFinalizers(nil)
	return obj, nil
}
