// Command manager runs the ConfigMapSync Operator.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/configmapsync/configmapsync-operator/internal/logfilter"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

func main() {
	opts := operator.DefaultFlags()
	if err := opts.FromEnvironment(os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts.Bind(flag.CommandLine)
	zapOpts := zap.Options{Development: false, TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	// Whatever the verbosity, no HTTP body (Secret data) is logged.
	ctrl.SetLogger(logfilter.WithoutHTTPBodies(zap.New(zap.UseFlagOptions(&zapOpts))))
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

// leaderLock returns the Lease lock held under the pod's identity, or nil (controller-runtime's own lock, with a
// random identity) outside a pod or without leader election.
func leaderLock(leaderCfg *rest.Config, opts operator.Flags) (resourcelock.Interface, error) {
	if !opts.LeaderElect || opts.LeaderIdentity == "" {
		return nil, nil
	}
	namespace := opts.LeaderElectionNamespace
	if namespace == "" {
		namespace = opts.Operator.Namespace // POD_NAMESPACE, where controller-runtime would put the Lease too.
	}
	return operator.LeaderLock(leaderCfg, namespace, opts.LeaderIdentity, opts.RenewDeadline)
}

func run(opts operator.Flags) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = float32(opts.KubeAPIQPS), opts.KubeAPIBurst

	var tlsOpts []func(*tls.Config)
	if !opts.EnableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{BindAddress: opts.MetricsAddr, SecureServing: opts.SecureMetrics, TLSOpts: tlsOpts}
	if opts.SecureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	leaderCfg := ownConnection(cfg)
	leaderLock, err := leaderLock(leaderCfg, opts)
	if err != nil {
		return err
	}
	webhookServer := operator.NewDrainingWebhookServer(
		webhook.NewServer(webhook.Options{Port: opts.WebhookPort, CertDir: opts.WebhookCertDir, TLSOpts: tlsOpts}),
		opts.WebhookShutdownDelay)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:                 webhookServer,
		Scheme:                        operator.NewScheme(),
		Cache:                         operator.CacheOptions(),
		Client:                        operator.ClientOptions(),
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        opts.ProbeAddr,
		PprofBindAddress:              opts.PprofAddr,
		LeaderElection:                opts.LeaderElect,
		LeaderElectionID:              operator.LeaderElectionID,
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaseDuration:                 &opts.LeaseDuration,
		RenewDeadline:                 &opts.RenewDeadline,
		RetryPeriod:                   &opts.RetryPeriod,
		LeaderElectionReleaseOnCancel: true, // Safe: the process exits as soon as the manager returns.
		LeaderElectionConfig:          leaderCfg,
		// Set in a pod: the pod's identity, so a restarted container renews its own Lease (operator.LeaderIdentity).
		LeaderElectionResourceLockInterface: leaderLock,
	})
	if err != nil {
		return err
	}
	ctx := ctrl.SetupSignalHandler()
	opts.Operator.Webhooks = opts.EnableWebhooks
	if opts.InstallMonitoring {
		opts.Operator.MonitoringNamespace = os.Getenv("POD_NAMESPACE")
	}
	if _, err := operator.Setup(ctx, mgr, opts.Operator); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready only once the webhook server listens: the API server calls it for every write and every conversion.
	ready := healthz.Ping
	if opts.EnableWebhooks {
		ready = webhookServer.StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}
	log.Info("Starting manager", "leaderElection", opts.LeaderElect)
	err = mgr.Start(ctx)
	webhookServer.WaitUntilDrained()
	return err
}
