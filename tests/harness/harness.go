// Package harness starts what the test suites run against: a real kube-apiserver and etcd (envtest) with the
// operator's CRDs and webhook configurations, and the operator itself, wired by the same code as main.go.
package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/modfile"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness/controlplane"
)

// RepoRoot is the repository's root folder, so suites in any folder find config/ and tests/testdata. It is the
// nearest folder above the working directory (a test's package folder) whose go.mod is the operator module's: the
// tests are a module of their own (tests/go.mod), and builds use -trimpath, so source file names in the binary are
// not paths on disk.
var RepoRoot = func() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for start := dir; ; dir = filepath.Dir(dir) {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modfile.ModulePath(data) == OperatorModule {
			return dir
		}
		if filepath.Dir(dir) == dir {
			panic("no go.mod of " + OperatorModule + " above " + start)
		}
	}
}()

// OperatorModule is the operator's module path: main.go's package, which the suites build into bin/manager.
const OperatorModule = "github.com/configmapsync/configmapsync-operator"

// Path returns a path below the repository root.
func Path(elem ...string) string { return filepath.Join(append([]string{RepoRoot}, elem...)...) }

// Options says what to install on the control plane.
type Options struct {
	// CRDPaths default to config/crd/bases.
	CRDPaths []string
	// CRDScheme decides which CRDs get webhook conversion (those whose kinds are convertible in it). Defaults to
	// the operator's scheme.
	CRDScheme *k8sruntime.Scheme
	// NoAdmissionWebhooks skips installing config/webhook.
	NoAdmissionWebhooks bool
	// Operator, when set, changes the options of every operator RunOperator starts, as its flags would.
	Operator func(*operator.Options)
	// OperatorUser, when set, runs the operator as this user (OperatorServiceAccount, say) with exactly the rights
	// the release grants it (config/rbac/role.yaml), instead of the admin's: what a tenant can make it do is then
	// what it could do in a cluster.
	OperatorUser string
	// Namespace is the operator's own namespace (OperatorNamespace, say), created at Start; its Role of
	// config/rbac/role.yaml is bound there for OperatorUser.
	Namespace string
}

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
	Scheme *k8sruntime.Scheme
	// Client has cluster-admin rights.
	Client client.Client
	// Calls records the writes of the operator started by RunOperator and injects faults into them.
	Calls *Calls
	// OperatorCopies is the copy store of the operator RunOperator last started: what it holds in memory of the
	// objects labelled as its own.
	OperatorCopies *copystore.Store
	// OperatorConfig is how the operator connects when it runs as Options.OperatorUser; nil when it uses Config.
	OperatorConfig *rest.Config

	operator operatorRun
	// tune is Options.Operator.
	tune func(*operator.Options)
	// namespace is Options.Namespace.
	namespace string
}

// NewSchemeForKinds returns the operator's scheme, to name the kinds of typed objects.
func NewSchemeForKinds() *k8sruntime.Scheme { return schemeForKinds }

var schemeForKinds = operator.NewScheme()

// Start starts etcd and kube-apiserver from KUBEBUILDER_ASSETS and installs the CRDs and webhooks.
func Start(o Options) (*Env, error) {
	scheme := operator.NewScheme()
	if o.CRDPaths == nil {
		o.CRDPaths = []string{Path("config", "crd", "bases")}
	}
	if o.CRDScheme == nil {
		o.CRDScheme = scheme
	}
	var webhooks []string
	if !o.NoAdmissionWebhooks {
		webhooks = []string{Path("config", "webhook", "manifests.yaml")}
	}
	env, cfg, err := controlplane.Start(controlplane.Options{CRDPaths: o.CRDPaths, CRDScheme: o.CRDScheme, WebhookPaths: webhooks})
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	operatorConfig, err := setUpOperatorIdentity(context.Background(), env, c, cfg, o)
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &Env{Environment: env, Config: cfg, Scheme: scheme, Client: c, Calls: &Calls{}, tune: o.Operator,
		OperatorConfig: operatorConfig, namespace: o.Namespace}, nil
}

// InstallCRDs installs (or upgrades) CRDs from paths, with webhook conversion pointing at the operator.
func (e *Env) InstallCRDs(paths ...string) error {
	_, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{
		Paths: paths, Scheme: e.Scheme, WebhookOptions: e.WebhookInstallOptions, ErrorIfPathMissing: true,
	})
	return err
}

// RunOperator starts the operator in this process, with its webhook server on the address the control plane
// calls. The returned function stops it and waits until it has stopped.
func (e *Env) RunOperator(ctx context.Context) (stop func(), err error) {
	wh := e.WebhookInstallOptions
	cfg := e.Config
	if e.OperatorConfig != nil {
		cfg = e.OperatorConfig
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 e.Scheme,
		Cache:                  operator.CacheOptions(),
		Client:                 operator.ClientOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		NewClient:              e.Calls.newClient,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
	})
	if err != nil {
		return nil, err
	}
	// The copies bypass the manager's client (internal/metawrite): their writer is wrapped here, as the client is
	// (NewClient above), so that Calls sees and may fail every write.
	writer, err := operator.NewCopyWriter(mgr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	opts := operator.DefaultOptions()
	opts.Controller.RetryBaseDelay = 50 * time.Millisecond // Faster retries keep fault tests short.
	opts.Controller.RetryMaxDelay = 2 * time.Second
	opts.Controller.SkipNameValidation = true
	if e.namespace != "" {
		opts.Namespace = e.namespace // Where the ownership key Secret lives, which only the operator may read.
	}
	if e.tune != nil {
		e.tune(&opts)
	}
	parts, err := operator.SetupWithCopyWriter(ctx, mgr, opts, e.Calls.WrapCopyWriter(writer))
	if err != nil {
		cancel()
		return nil, err
	}
	e.OperatorCopies = parts.Copies
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "operator:", err)
		}
	}, nil
}
