// Package monitoring installs the operator's ServiceMonitor, the token Secret it scrapes with, and the
// PrometheusRule (config/prometheus) where the Prometheus Operator's CRDs exist. The OLM bundle cannot carry them: OLM refuses to install a bundle with kinds
// the cluster does not know, so such a bundle cannot be installed on a cluster without the Prometheus Operator.
package monitoring

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	manifestsdecoder "github.com/configmapsync/configmapsync-operator/internal/manifests"
)

// manifests is `kustomize build config/monitoring`, written by `make manifests`.
//
//go:embed manifests.yaml
var manifests []byte

// GroupVersion is the Prometheus Operator's API.
const GroupVersion = "monitoring.coreos.com/v1"

// MetricsService is the operator's metrics Service (config/default/metrics_service.yaml, with the prefix), which the
// ServiceMonitor scrapes. The installed objects name it as their owner, so they go when it goes: OLM deletes it
// with the CSV, `make undeploy` with the rest.
const MetricsService = "configmapsync-operator-controller-manager-metrics-service"

// DefaultInterval is how often the objects are installed again: so that they appear within that time after the
// Prometheus Operator is installed, and come back after anyone deletes them.
const DefaultInterval = 5 * time.Minute

// The objects in the operator's own namespace (config/rbac gets a Role and RoleBinding there from these markers):
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors;prometheusrules,verbs=get;create;patch,namespace=system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;patch,namespace=system
// +kubebuilder:rbac:groups="",resources=services,verbs=get,namespace=system

// Installer applies the objects in Namespace (the operator's) with server-side apply, at start and every Interval,
// on the leader only. It never fails the manager: without the CRDs, or without its Service, it does nothing.
type Installer struct {
	// Client writes the objects; Reader reads the Service (not from the manager's cache, which does not hold
	// Services); Discovery tells which kinds the cluster serves.
	Client    client.Client
	Reader    client.Reader
	Discovery discovery.DiscoveryInterface
	Namespace string
	// FieldOwner is the field manager of the applies.
	FieldOwner string
	Interval   time.Duration
	Log        logr.Logger
}

// Objects returns the objects the operator installs (ServiceMonitor, its token Secret, PrometheusRule), without a
// namespace.
func Objects() ([]*unstructured.Unstructured, error) {
	out, err := manifestsdecoder.Decode(manifests)
	if err != nil {
		return nil, fmt.Errorf("decoding the embedded monitoring manifests: %w", err)
	}
	for _, obj := range out {
		obj.SetNamespace("")
	}
	return out, nil
}

// NeedLeaderElection makes the installer run on the leader only.
func (i *Installer) NeedLeaderElection() bool { return true }

// Start installs the objects now and every Interval until ctx ends.
func (i *Installer) Start(ctx context.Context) error {
	ticker := time.NewTicker(i.Interval)
	defer ticker.Stop()
	for {
		if err := i.Install(ctx); err != nil && ctx.Err() == nil {
			i.Log.Error(err, "Installing the ServiceMonitor and PrometheusRule failed; trying again later",
				"namespace", i.Namespace, "retryIn", i.Interval)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Install applies every object whose kind the cluster serves, owned by the metrics Service. It returns nil when
// the cluster has no Prometheus Operator or the Service does not exist.
func (i *Installer) Install(ctx context.Context) error {
	served, err := i.servedKinds()
	if err != nil || len(served) == 0 {
		return err
	}
	service := &corev1.Service{}
	if err := i.Reader.Get(ctx, client.ObjectKey{Namespace: i.Namespace, Name: MetricsService}, service); err != nil {
		if apierrors.IsNotFound(err) {
			i.Log.V(1).Info("No metrics Service to scrape; not installing monitoring", "service", MetricsService)
			return nil
		}
		return fmt.Errorf("reading the metrics Service: %w", err)
	}
	objects, err := Objects()
	if err != nil {
		return err
	}
	for _, obj := range objects {
		if !needed(obj, served) {
			continue
		}
		obj.SetNamespace(i.Namespace)
		obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: service.Name, UID: service.UID}})
		if err := i.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), client.FieldOwner(i.FieldOwner),
			client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// needed says whether obj is installed: the Prometheus Operator's kinds the cluster serves, and core objects (the
// scrape token) when there is a ServiceMonitor to use them.
func needed(obj *unstructured.Unstructured, served map[string]bool) bool {
	if obj.GetAPIVersion() == GroupVersion {
		return served[obj.GetKind()]
	}
	return served["ServiceMonitor"]
}

// servedKinds returns the kinds of the Prometheus Operator's API the cluster serves (none without its CRDs).
func (i *Installer) servedKinds() (map[string]bool, error) {
	resources, err := i.Discovery.ServerResourcesForGroupVersion(GroupVersion)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", GroupVersion, err)
	}
	served := map[string]bool{}
	for _, r := range resources.APIResources {
		served[r.Kind] = true
	}
	return served, nil
}
