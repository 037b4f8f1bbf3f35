// Command manager runs the ConfigMapSync Operator.
package main

import (
	"crypto/tls"
	"flag"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// options are the operator's command-line flags.
type options struct {
	metricsAddr      string
	secureMetrics    bool
	enableHTTP2      bool
	probeAddr        string
	pprofAddr        string
	leaderElect      bool
	leaderElectionNS string
	leaseDuration    time.Duration
	renewDeadline    time.Duration
	retryPeriod      time.Duration
	kubeAPIQPS       float64
	kubeAPIBurst     int
	enableWebhooks   bool
	monitoring       bool
	webhookPort      int
	webhookCertDir   string
	operator         operator.Options
}

func (o *options) bind(fs *flag.FlagSet) {
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "0",
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP). 0 disables it.")
	fs.BoolVar(&o.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, allowing only callers authorized to get /metrics (TokenReview + SubjectAccessReview).")
	fs.BoolVar(&o.enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics and webhook servers (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz endpoints bind to.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "",
		"Address Go's profiling endpoints (/debug/pprof) bind to, e.g. 127.0.0.1:6060. Empty disables them.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Elect a leader so that only one of several replicas reconciles at a time.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "",
		"Namespace of the leader-election Lease (default: the namespace the operator runs in).")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long followers wait before taking over a lease the leader stopped renewing.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leadership.")
	// Not the Operator SDK's 2 s: client-go jitters each wait by up to 1.2 times the period, so followers noticed a
	// dead leader's expired lease up to ~4 s late; `make bench` measured SIGKILL-to-new-leader at 17.2-18.3 s with
	// 2 s and 14.9-15.4 s with 500 ms (lease 15 s), for two Lease writes a second instead of one every two.
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 500*time.Millisecond,
		"How often leader-election clients retry: the leader renews, followers check for an expired lease.")
	// The client-side limit is only a brake on a runaway loop: the API server's Priority and Fairness protects it
	// server-side, and the operator's concurrency is bounded anyway (--max-concurrent-reconciles times
	// --max-parallel-writes). At the former 50/100, one fan-out to 500 namespaces took 8.1 s instead of 1.3 s,
	// and the admission webhook's SubjectAccessReviews (4 per ConfigMapSync create, same client) capped creates at
	// ~13/s; `make bench` measured both (bench/results).
	fs.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 500, "Sustained queries per second to the API server.")
	fs.IntVar(&o.kubeAPIBurst, "kube-api-burst", 1000, "Burst of queries to the API server.")
	fs.BoolVar(&o.enableWebhooks, "enable-webhooks", true,
		"Serve the conversion, defaulting and validating webhooks. Turn off only to run the operator outside the cluster.")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port of the webhook server.")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs",
		"Folder with the webhook server's tls.crt and tls.key (OLM mounts them here).")
	fs.BoolVar(&o.monitoring, "install-monitoring", true,
		"Install the ServiceMonitor and PrometheusRule in the operator's namespace (POD_NAMESPACE) when the cluster "+
			"has the Prometheus Operator's CRDs, at start and every 5 minutes.")
	o.operator = operator.DefaultOptions()
	fs.IntVar(&o.operator.Controller.MaxConcurrentReconciles, "max-concurrent-reconciles",
		o.operator.Controller.MaxConcurrentReconciles, "How many ConfigMapSyncs are synced at once.")
	fs.IntVar(&o.operator.MaxParallelWrites, "max-parallel-writes", o.operator.MaxParallelWrites,
		"How many copies one sync writes at once.")
	fs.DurationVar(&o.operator.Controller.RetryBaseDelay, "retry-base-delay", o.operator.Controller.RetryBaseDelay,
		"First delay before retrying a failed sync; it doubles with every failure.")
	fs.DurationVar(&o.operator.Controller.RetryMaxDelay, "retry-max-delay", o.operator.Controller.RetryMaxDelay,
		"Longest delay between retries of a failed sync.")
}

func main() {
	var opts options
	opts.bind(flag.CommandLine)
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if limit, ok := softMemoryLimit(os.Getenv("MEMORY_LIMIT"), os.Getenv("GOMEMLIMIT")); ok {
		debug.SetMemoryLimit(limit)
		log.Info("Set the Go memory limit from the container's", "bytes", limit)
	}

	if err := run(opts); err != nil {
		log.Error(err, "Operator stopped")
		os.Exit(1)
	}
}

// defaultGCPercent is the garbage collector's target unless GOGC says otherwise. The operator's live heap is
// small (metadata of its copies), while what it allocates is mostly data passing through: sources read and copies
// encoded and decoded, a MiB each for a CA bundle. At Go's default of 100 the heap grows to twice the live heap
// between collections; `make bench` measured, for a 100 KiB ConfigMap in 5,000 namespaces, a peak RSS of 143 MiB
// at 100 and 118 MiB at 50, for the same fan-out time.
const defaultGCPercent = 50

// softMemoryLimit returns 90 % of the container's memory limit (MEMORY_LIMIT, in bytes, from the downward API) as
// the Go runtime's soft limit, so that the garbage collector works harder before the kernel kills the container
// rather than after; false when there is no limit, or GOMEMLIMIT says otherwise.
func softMemoryLimit(containerLimit, goMemLimit string) (int64, bool) {
	if goMemLimit != "" {
		return 0, false
	}
	limit, err := strconv.ParseInt(containerLimit, 10, 64)
	if err != nil || limit <= 0 {
		return 0, false
	}
	return limit * 9 / 10, true
}

// ownConnection returns cfg with a dialer of its own, so that clients built from it do not share the HTTP/2
// connection of the manager's client. Lease renewals must not queue behind copies of a MiB each: in `make bench`,
// a 1 MiB ConfigMap updated in 1,000 namespaces delayed a renewal past its timeout and the leader stepped down.
func ownConnection(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	return c
}

func run(opts options) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = float32(opts.kubeAPIQPS), opts.kubeAPIBurst

	var tlsOpts []func(*tls.Config)
	if !opts.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: opts.metricsAddr, SecureServing: opts.secureMetrics, TLSOpts: tlsOpts}
	if opts.secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	webhookServer := webhook.NewServer(webhook.Options{Port: opts.webhookPort, CertDir: opts.webhookCertDir, TLSOpts: tlsOpts})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:                 webhookServer,
		Scheme:                        operator.NewScheme(),
		Cache:                         operator.CacheOptions(),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        opts.probeAddr,
		PprofBindAddress:              opts.pprofAddr,
		LeaderElection:                opts.leaderElect,
		LeaderElectionID:              operator.LeaderElectionID,
		LeaderElectionNamespace:       opts.leaderElectionNS,
		LeaseDuration:                 &opts.leaseDuration,
		RenewDeadline:                 &opts.renewDeadline,
		RetryPeriod:                   &opts.retryPeriod,
		LeaderElectionReleaseOnCancel: true, // Safe: the process exits as soon as the manager returns.
		LeaderElectionConfig:          ownConnection(cfg),
	})
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	opts.operator.Webhooks = opts.enableWebhooks
	if opts.monitoring {
		opts.operator.MonitoringNamespace = os.Getenv("POD_NAMESPACE")
	}
	if err := operator.Setup(ctx, mgr, opts.operator); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready only once the webhook server listens: the API server calls it for every write and every conversion.
	ready := healthz.Ping
	if opts.enableWebhooks {
		ready = webhookServer.StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}
	log.Info("Starting manager", "leaderElection", opts.leaderElect)
	return mgr.Start(ctx)
}
