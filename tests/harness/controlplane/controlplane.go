// Package controlplane starts the local control plane the tests, the bench and the demo run the operator on: etcd
// and kube-apiserver from KUBEBUILDER_ASSETS (built by `make envtest`), with the operator's CRDs (converted through
// its /convert webhook) and its admission webhook configurations installed. One place, so that its callers differ
// only in the Options they pass.
package controlplane

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// Options say what to install and how to run the control plane. The zero value of each field is envtest's default.
type Options struct {
	// CRDPaths are the CRD files or folders to install (config/crd/bases, say); a missing one is an error.
	CRDPaths []string
	// CRDScheme decides which CRDs get webhook conversion: those whose kinds are convertible in it. Nil means the
	// operator's scheme.
	CRDScheme *runtime.Scheme
	// WebhookPaths are the admission webhook configurations to install, pointed at the operator on loopback; none
	// installs none.
	WebhookPaths []string
	// EtcdQuotaBackendBytes raises etcd's database size limit (etcd's default is 2 GiB).
	EtcdQuotaBackendBytes int64
	// APIServerCertDir keeps the API server's certificates in a folder of the caller's: envtest deletes a folder
	// it picked itself when the API server stops, and a restart then comes up with a CA no client trusts.
	APIServerCertDir string
	// WatchTerminationGracePeriod makes a graceful stop of the API server close open watches after this long
	// instead of waiting for them to end, as a rolling restart of the API server does.
	WatchTerminationGracePeriod time.Duration
	// AdmissionPlugins are turned on in the API server beside its defaults (OwnerReferencesPermissionEnforcement,
	// say, which OpenShift runs).
	AdmissionPlugins []string
	// StartTimeout bounds the start (envtest's default is 20 s; a loaded machine needs more).
	StartTimeout time.Duration
}

// Start starts the control plane and installs what o lists. Stop the returned environment when done.
func Start(o Options) (*envtest.Environment, *rest.Config, error) {
	if o.CRDScheme == nil {
		o.CRDScheme = operator.NewScheme()
	}
	env := &envtest.Environment{
		CRDInstallOptions:        envtest.CRDInstallOptions{Paths: o.CRDPaths, Scheme: o.CRDScheme, ErrorIfPathMissing: true},
		WebhookInstallOptions:    envtest.WebhookInstallOptions{Paths: o.WebhookPaths},
		ControlPlaneStartTimeout: o.StartTimeout,
	}
	if o.EtcdQuotaBackendBytes > 0 {
		etcd := &envtest.Etcd{}
		etcd.Configure().Set("quota-backend-bytes", strconv.FormatInt(o.EtcdQuotaBackendBytes, 10))
		env.ControlPlane.Etcd = etcd
	}
	apiServer := env.ControlPlane.GetAPIServer()
	if o.APIServerCertDir != "" {
		apiServer.CertDir = o.APIServerCertDir
	}
	if o.WatchTerminationGracePeriod > 0 {
		apiServer.Configure().Set("shutdown-watch-termination-grace-period", o.WatchTerminationGracePeriod.String())
	}
	if len(o.AdmissionPlugins) > 0 {
		apiServer.Configure().Append("enable-admission-plugins", strings.Join(o.AdmissionPlugins, ","))
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("starting the control plane (KUBEBUILDER_ASSETS=%q; `make envtest` builds it): %w",
			os.Getenv("KUBEBUILDER_ASSETS"), err)
	}
	return env, cfg, nil
}
