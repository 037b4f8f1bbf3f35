package operator

import (
	"flag"
	"fmt"
	"path"
	"strings"
	"time"
)

// Flags are the operator's command-line flags, typed. main.go parses its command line into them (Bind); the test
// suites, the bench and the demo build the command line of the processes they start from them (Args), so that a
// renamed or removed flag breaks them when they compile, not when they run.
type Flags struct {
	MetricsAddr             string
	SecureMetrics           bool
	EnableHTTP2             bool
	ProbeAddr               string
	PprofAddr               string
	LeaderElect             bool
	LeaderElectionNamespace string
	// LeaderIdentity is who holds the leader Lease: the pod's name and UID from the environment (LeaderIdentity),
	// or empty for controller-runtime's random one. Not a flag: it must be the pod's, or restarts cost a lease.
	LeaderIdentity    string
	LeaseDuration     time.Duration
	RenewDeadline     time.Duration
	RetryPeriod       time.Duration
	KubeAPIQPS        float64
	KubeAPIBurst      int
	EnableWebhooks    bool
	InstallMonitoring bool
	WebhookPort       int
	WebhookCertDir    string
	// WebhookShutdownDelay is how long the webhook server keeps answering after the operator is told to stop
	// (DrainingWebhookServer).
	WebhookShutdownDelay time.Duration
	// Operator tunes the controllers.
	Operator Options
}

// DefaultFlags are the flags' defaults: what the operator runs with when its command line sets none.
func DefaultFlags() Flags {
	return Flags{
		MetricsAddr:       "0",
		SecureMetrics:     true,
		ProbeAddr:         ":8081",
		LeaseDuration:     15 * time.Second,
		RenewDeadline:     10 * time.Second,
		RetryPeriod:       500 * time.Millisecond,
		KubeAPIQPS:        500,
		KubeAPIBurst:      1000,
		EnableWebhooks:    true,
		InstallMonitoring: true,
		WebhookPort:       9443,
		WebhookCertDir:    "/tmp/k8s-webhook-server/serving-certs",
		// Over kube-proxy's rule updates (a second, more on a busy node), within the pod's grace period of 10 s.
		WebhookShutdownDelay: 5 * time.Second,
		Operator:             DefaultOptions(),
	}
}

// Bind defines every flag on fs, with f's values as the defaults, and parses into f.
func (f *Flags) Bind(fs *flag.FlagSet) {
	fs.StringVar(&f.MetricsAddr, "metrics-bind-address", f.MetricsAddr,
		"Address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP). 0 disables it.")
	fs.BoolVar(&f.SecureMetrics, "metrics-secure", f.SecureMetrics,
		"Serve metrics over HTTPS, allowing only callers authorized to get /metrics (TokenReview + SubjectAccessReview).")
	fs.BoolVar(&f.EnableHTTP2, "enable-http2", f.EnableHTTP2,
		"Allow HTTP/2 on the metrics and webhook servers (off by default: CVE-2023-44487, CVE-2023-39325).")
	fs.StringVar(&f.ProbeAddr, "health-probe-bind-address", f.ProbeAddr, "Address the /healthz and /readyz endpoints bind to.")
	fs.StringVar(&f.PprofAddr, "pprof-bind-address", f.PprofAddr,
		"Address Go's profiling endpoints (/debug/pprof) bind to, e.g. 127.0.0.1:6060. Empty disables them.")
	fs.BoolVar(&f.LeaderElect, "leader-elect", f.LeaderElect,
		"Elect a leader so that only one of several replicas reconciles at a time.")
	fs.StringVar(&f.LeaderElectionNamespace, "leader-election-namespace", f.LeaderElectionNamespace,
		"Namespace of the leader-election Lease (default: the namespace the operator runs in).")
	fs.DurationVar(&f.LeaseDuration, "leader-election-lease-duration", f.LeaseDuration,
		"How long followers wait before taking over a lease the leader stopped renewing.")
	fs.DurationVar(&f.RenewDeadline, "leader-election-renew-deadline", f.RenewDeadline,
		"How long the leader keeps trying to renew before it gives up leadership.")
	// Not the Operator SDK's 2 s: client-go jitters each wait by up to 1.2 times the period, so followers noticed a
	// dead leader's expired lease up to ~4 s late; `make bench` measured SIGKILL-to-new-leader at 17.2-18.3 s with
	// 2 s and 14.9-15.4 s with 500 ms (lease 15 s), for two Lease writes a second instead of one every two.
	fs.DurationVar(&f.RetryPeriod, "leader-election-retry-period", f.RetryPeriod,
		"How often leader-election clients retry: the leader renews, followers check for an expired lease.")
	// The client-side limit is only a brake on a runaway loop: the API server's Priority and Fairness protects it
	// server-side, and the operator's concurrency is bounded anyway (--max-concurrent-reconciles times
	// --max-parallel-writes). At the former 50/100, one fan-out to 500 namespaces took 8.1 s instead of 1.3 s,
	// and the admission webhook's SubjectAccessReviews (4 per ConfigMapSync create, same client) capped creates at
	// ~13/s; `make bench` measured both (bench/results).
	fs.Float64Var(&f.KubeAPIQPS, "kube-api-qps", f.KubeAPIQPS, "Sustained queries per second to the API server.")
	fs.IntVar(&f.KubeAPIBurst, "kube-api-burst", f.KubeAPIBurst, "Burst of queries to the API server.")
	fs.BoolVar(&f.EnableWebhooks, "enable-webhooks", f.EnableWebhooks,
		"Serve the conversion, defaulting and validating webhooks. Turn off only to run the operator outside the cluster.")
	fs.IntVar(&f.WebhookPort, "webhook-port", f.WebhookPort, "Port of the webhook server.")
	fs.StringVar(&f.WebhookCertDir, "webhook-cert-dir", f.WebhookCertDir,
		"Folder with the webhook server's tls.crt and tls.key (OLM mounts them here).")
	fs.DurationVar(&f.WebhookShutdownDelay, "webhook-shutdown-delay", f.WebhookShutdownDelay,
		"How long the webhook server keeps answering after SIGTERM, while the API server's routes move to another "+
			"replica; the controllers stop and the leader Lease is released at once. Keep it under the pod's grace period.")
	fs.BoolVar(&f.InstallMonitoring, "install-monitoring", f.InstallMonitoring,
		"Install the ServiceMonitor and PrometheusRule in the operator's namespace (POD_NAMESPACE) when the cluster "+
			"has the Prometheus Operator's CRDs, at start and every 5 minutes.")
	fs.StringVar(&f.Operator.Namespace, "operator-namespace", f.Operator.Namespace,
		"The operator's own namespace, which holds the Secret of its ownership key; only cluster admins should read "+
			"Secrets there. Defaults to POD_NAMESPACE (set from the pod's namespace by the Deployment).")
	fs.IntVar(&f.Operator.Controller.MaxConcurrentReconciles, "max-concurrent-reconciles",
		f.Operator.Controller.MaxConcurrentReconciles, "How many objects of each kind are reconciled at once.")
	fs.IntVar(&f.Operator.MaxParallelWrites, "max-parallel-writes", f.Operator.MaxParallelWrites,
		"How many copies one sync writes at once.")
	fs.Var((*patternList)(&f.Operator.ExcludedNamespaces), "excluded-namespaces",
		"Comma-separated names and globs (* and ?) of namespaces no ConfigMapSync may write to, whatever it asks, "+
			"e.g. kube-*,openshift-*. Copies already there are pruned.")
	fs.DurationVar(&f.Operator.Controller.RetryBaseDelay, "retry-base-delay", f.Operator.Controller.RetryBaseDelay,
		"First delay before retrying a failed sync; it doubles with every failure.")
	fs.DurationVar(&f.Operator.Controller.RetryMaxDelay, "retry-max-delay", f.Operator.Controller.RetryMaxDelay,
		"Longest delay between retries of a failed sync.")
}

// ExcludedNamespacesEnv sets --excluded-namespaces' default. OLM lets a Subscription set the operator's environment
// (spec.config.env) but not its command line.
const ExcludedNamespacesEnv = "EXCLUDED_NAMESPACES"

// PodNamespaceEnv is the operator's namespace, from the downward API: --operator-namespace's default.
const PodNamespaceEnv = "POD_NAMESPACE"

// FromEnvironment sets the defaults that the environment may give, before Bind: the command line still wins.
func (f *Flags) FromEnvironment(getenv func(string) string) error {
	if v := getenv(PodNamespaceEnv); v != "" {
		f.Operator.Namespace = v
	}
	f.LeaderIdentity = LeaderIdentity(getenv)
	if v := getenv(ExcludedNamespacesEnv); v != "" {
		if err := (*patternList)(&f.Operator.ExcludedNamespaces).Set(v); err != nil {
			return fmt.Errorf("%s: %w", ExcludedNamespacesEnv, err)
		}
	}
	return nil
}

// Args returns the command line that sets every flag to f's value.
func (f Flags) Args() []string {
	fs := flag.NewFlagSet("operator", flag.ContinueOnError)
	f.Bind(fs)
	var args []string
	fs.VisitAll(func(fl *flag.Flag) { args = append(args, fmt.Sprintf("--%s=%s", fl.Name, fl.Value)) })
	return args
}

// patternList is a comma-separated flag of names and globs.
type patternList []string

func (l *patternList) String() string { return strings.Join(*l, ",") }

// Set parses the flag's value, checking each glob: a malformed one would otherwise match nothing, silently.
func (l *patternList) Set(value string) error {
	*l = nil
	for _, p := range strings.Split(value, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
		*l = append(*l, p)
	}
	return nil
}
