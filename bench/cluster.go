package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness/controlplane"
	"github.com/configmapsync/configmapsync-operator/tests/harness/localport"
	"github.com/configmapsync/configmapsync-operator/tests/harness/supervisor"
)

// leaseName is the operator's leader-election Lease.
const leaseName = operator.LeaderElectionID

// leaseNamespace is where the bench tells the operator to keep its Lease (it runs outside a pod).
const leaseNamespace = "default"

// cluster is a running control plane and the clients the bench talks to it with.
type cluster struct {
	env *envtest.Environment
	// cfg is an admin config without client-side rate limiting, the config of the direct baselines.
	cfg *rest.Config
	// kubeconfig is the admin kubeconfig file the operator reads (KUBECONFIG).
	kubeconfig string
	client     client.WithWatch
	clientset  *kubernetes.Clientset
	dir        string
	// operatorConfig is the kubeconfig of the operator's ServiceAccount, once operatorKubeconfig made it.
	operatorConfig string
}

// etcdQuotaBackendBytes is etcd's storage quota for the bench: 8 GiB instead of the default 2 GiB, which the
// fanout-size scenario outgrows (1000 copies of 1 MiB, their direct baseline and an update of each, whose old
// revisions stay until the API server compacts them every 5 minutes). Past its quota etcd refuses every write.
const etcdQuotaBackendBytes = 8 << 30

// startCluster starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, installs the CRDs (with conversion
// through the operator's /convert) and the webhook configurations, and writes an admin kubeconfig.
func startCluster(crds, webhooks string) (*cluster, error) {
	env, _, err := controlplane.Start(controlplane.Options{
		CRDPaths: []string{crds}, WebhookPaths: []string{webhooks}, EtcdQuotaBackendBytes: etcdQuotaBackendBytes,
	})
	if err != nil {
		return nil, err
	}
	c := &cluster{env: env}
	if err := c.connect(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// connect creates the admin identity, its kubeconfig and the bench's clients.
func (c *cluster) connect() error {
	admin, err := c.env.AddUser(envtest.User{Name: "bench", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("adding the admin user: %w", err)
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	if c.dir, err = os.MkdirTemp("", "configmapsync-bench-"); err != nil {
		return err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	if err := os.WriteFile(c.kubeconfig, raw, 0o600); err != nil {
		return err
	}
	// The baselines measure what the API server can take, so the bench itself is never throttled client-side.
	c.cfg = rest.CopyConfig(admin.Config())
	c.cfg.QPS, c.cfg.Burst = -1, 0
	if c.client, err = client.NewWithWatch(c.cfg, client.Options{Scheme: operator.NewScheme()}); err != nil {
		return err
	}
	c.clientset, err = kubernetes.NewForConfig(c.cfg)
	return err
}

// stop stops the control plane and removes the bench's temporary files.
func (c *cluster) stop() {
	if err := c.env.Stop(); err != nil {
		logf("stopping the control plane: %v", err)
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// serverVersion returns the API server's git version, for the report.
func (c *cluster) serverVersion() string {
	v, err := c.clientset.Discovery().ServerVersion()
	if err != nil {
		return "unknown"
	}
	return v.GitVersion
}

// operatorProcess is bin/manager running as a child process under tests/harness/supervisor: like the kubelet, it is
// restarted when it exits on its own (it does when it loses leader election), and those restarts are counted, so a
// scenario measures the recovery too instead of waiting for a dead operator.
type operatorProcess struct {
	*supervisor.Process
	// name tells replicas apart in the bench's log ("operator" for the one the scenarios measure).
	name        string
	args        []string
	metricsAddr string
	probeAddr   string
	logPath     string
	logFile     *os.File
	// startedAt is when the supervisor last started a process (UnixNano), for start-up times.
	startedAt atomic.Int64
	// memoryLimit is the MEMORY_LIMIT the process runs with (0 for none).
	memoryLimit int64
}

// replicaOptions change how startReplicaWith runs a replica: kubeconfig instead of the admin's, env instead of the
// bench's environment.
type replicaOptions struct {
	kubeconfig string
	env        []string
}

// startOperator runs the operator binary with the production flags of config/manager/manager.yaml (leader
// election, health probes, metrics) plus what running outside a pod needs: the Lease namespace, plain-HTTP metrics
// on loopback so the bench can scrape them, and the webhook port and certificate envtest prepared. extraArgs come
// last so they override.
func startOperator(c *cluster, manager string, extraArgs []string) (*operatorProcess, error) {
	return startReplica(c, manager, "operator", c.env.WebhookInstallOptions.LocalServingPort, extraArgs)
}

// startReplica runs one more operator process like startOperator's, under name, with its own metrics and probe
// ports, log file (name.log) and webhook port. Only startOperator's webhook port is the one the API server calls;
// another replica serves the same certificate on its own port, unused, because two processes cannot share one.
func startReplica(c *cluster, manager, name string, webhookPort int, extraArgs []string) (*operatorProcess, error) {
	return startReplicaWith(c, manager, name, webhookPort, extraArgs, replicaOptions{})
}

// startReplicaWith is startReplica with options.
func startReplicaWith(c *cluster, manager, name string, webhookPort int, extraArgs []string, o replicaOptions) (*operatorProcess, error) {
	if o.kubeconfig == "" {
		o.kubeconfig = c.kubeconfig
	}
	if o.env == nil {
		o.env = os.Environ()
	}
	metricsPort, err := localport.Free()
	if err != nil {
		return nil, err
	}
	probePort, err := localport.Free()
	if err != nil {
		return nil, err
	}
	flags := operator.DefaultFlags()
	flags.LeaderElect, flags.LeaderElectionNamespace = true, leaseNamespace
	flags.ProbeAddr = fmt.Sprintf("127.0.0.1:%d", probePort)
	flags.MetricsAddr, flags.SecureMetrics = fmt.Sprintf("127.0.0.1:%d", metricsPort), false
	flags.WebhookPort, flags.WebhookCertDir = webhookPort, c.env.WebhookInstallOptions.LocalServingCertDir
	p := &operatorProcess{
		name:        name,
		args:        append(flags.Args(), extraArgs...),
		metricsAddr: flags.MetricsAddr,
		probeAddr:   flags.ProbeAddr,
		logPath:     filepath.Join(c.dir, name+".log"),
	}
	if p.logFile, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	p.Process, err = supervisor.Start(supervisor.Config{
		Binary: manager, Args: p.args, Output: p.logFile,
		Env:         append(o.env, "KUBECONFIG="+o.kubeconfig),
		ExitReason:  func() string { return stopReason(p.logPath) },
		BeforeStart: func() { p.startedAt.Store(time.Now().UnixNano()) },
	})
	if err != nil {
		_ = p.logFile.Close()
		return nil, err
	}
	logf("%s started: pid %d, args %s", name, p.PID(), strings.Join(p.args, " "))
	return p, nil
}

// kill sends sig to the running process on purpose, to test failover: the supervisor restarts it a second after
// it exits, as the kubelet restarts a killed pod, without counting that as an exit on its own. It returns a
// channel closed once the process has exited.
func (p *operatorProcess) kill(sig syscall.Signal) (<-chan struct{}, error) {
	gone, err := p.Kill(sig)
	if err != nil {
		return nil, fmt.Errorf("the %s: %w", p.name, err)
	}
	return gone, nil
}

// restart stops the operator (SIGTERM, killed after 15 s) and starts it again at once, as a rollout would; it is
// not counted as a restart of its own. It returns when the new process runs, before it is ready (see waitReady).
func (p *operatorProcess) restart() error {
	if err := p.Restart(); err != nil {
		return fmt.Errorf("restarting the %s: %w", p.name, err)
	}
	logf("%s restarted: pid %d", p.name, p.PID())
	return nil
}

// waitReady waits until the operator answers /readyz (its webhook server listens) and holds the Lease, so the
// scenarios measure syncing, not start-up. former is the Lease holder of a process the bench just stopped, which
// does not count ("" for none): the new process is leading only once the holder is someone else.
func (p *operatorProcess) waitReady(ctx context.Context, c *cluster, former string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
		if ready, err := p.answersReady(); !ready || err != nil {
			return false, err
		}
		holder, err := c.leaseHolder(ctx)
		return holder != "" && holder != former, err
	})
	if err != nil {
		return fmt.Errorf("waiting for the %s to be ready and lead: %w", p.name, err)
	}
	return nil
}

// waitServing waits until the operator answers /readyz, leading or not: a follower serves its probes and webhooks
// too, and its caches run, but its controllers wait for the Lease.
func (p *operatorProcess) waitServing(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := poll(ctx, 100*time.Millisecond, p.answersReady); err != nil {
		return fmt.Errorf("waiting for the %s to answer /readyz: %w", p.name, err)
	}
	return nil
}

// answersReady reports whether the operator answers /readyz with 200; an error once it exited for good.
func (p *operatorProcess) answersReady() (bool, error) {
	select {
	case <-p.Exited():
		return false, fmt.Errorf("the %s exited and could not be restarted", p.name)
	default:
	}
	resp, err := http.Get("http://" + p.probeAddr + "/readyz") //nolint:gosec,noctx // Loopback URL built by the bench; the callers' poll bounds the time.
	if err != nil {
		return false, nil
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// leaseHolder returns who holds the operator's leader-election Lease ("" when nobody or no Lease).
func (c *cluster) leaseHolder(ctx context.Context) (string, error) {
	lease, err := c.clientset.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	if lease.Spec.HolderIdentity == nil {
		return "", nil
	}
	return *lease.Spec.HolderIdentity, nil
}

// stop asks the operator to stop (SIGTERM, as the kubelet does), kills it if it does not within 15 s, and closes
// its log.
func (p *operatorProcess) stop() {
	p.Stop()
	_ = p.logFile.Close()
}

// stopReason returns the error of the operator's last "Operator stopped" log line (main.go logs it on exit).
func stopReason(logPath string) string {
	raw, err := os.ReadFile(logPath)
	if err != nil {
		return "unknown"
	}
	i := bytes.LastIndex(raw, []byte(`"msg":"Operator stopped"`))
	if i < 0 {
		return "unknown"
	}
	line, _, _ := bytes.Cut(raw[i:], []byte("\n"))
	var entry struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(append([]byte(`{`), line...), &entry) != nil || entry.Error == "" {
		return "unknown"
	}
	return entry.Error
}

// tailLog prints the last lines of the operator's log, to explain a failure.
func (p *operatorProcess) tailLog(n int) {
	f, err := os.Open(p.logPath)
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	logf("last %d lines of the %s's log:", len(lines), p.name)
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "    "+p.name+" | "+l)
	}
}

// poll calls cond every interval until it returns true or an error, or ctx ends.
func poll(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
