package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
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
}

// etcdQuotaBackendBytes is etcd's storage quota for the bench: 8 GiB instead of the default 2 GiB, which the
// fanout-size scenario outgrows (1000 copies of 1 MiB, their direct baseline and an update of each, whose old
// revisions stay until the API server compacts them every 5 minutes). Past its quota etcd refuses every write.
const etcdQuotaBackendBytes = 8 << 30

// startCluster starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, installs the CRDs (with conversion
// through the operator's /convert) and the webhook configurations, and writes an admin kubeconfig.
func startCluster(crds, webhooks string) (*cluster, error) {
	etcd := &envtest.Etcd{}
	etcd.Configure().Set("quota-backend-bytes", strconv.Itoa(etcdQuotaBackendBytes))
	env := &envtest.Environment{
		ControlPlane: envtest.ControlPlane{Etcd: etcd},
		CRDInstallOptions: envtest.CRDInstallOptions{
			Paths: []string{crds}, Scheme: operator.NewScheme(), ErrorIfPathMissing: true,
		},
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{webhooks}},
	}
	if _, err := env.Start(); err != nil {
		return nil, fmt.Errorf("starting the control plane (KUBEBUILDER_ASSETS=%q): %w", os.Getenv("KUBEBUILDER_ASSETS"), err)
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

// operatorProcess is bin/manager running as a child process. Like the kubelet, the bench restarts it when it
// exits on its own (it does when it loses leader election), and counts the restarts: a scenario then measures
// the recovery too, instead of waiting for a dead operator.
type operatorProcess struct {
	// name tells replicas apart in the bench's log ("operator" for the one the scenarios measure).
	name        string
	manager     string
	args, env   []string
	metricsAddr string
	probeAddr   string
	logPath     string
	logFile     *os.File

	mu  sync.Mutex
	cmd *exec.Cmd
	// gone is closed once cmd has exited (the supervisor reaped it).
	gone chan struct{}
	// killed is the process the bench signalled on purpose (kill): restarted like any exit, but not counted.
	killed   *exec.Cmd
	stopping bool
	restarts []string // why each restart was needed
	// planned, while the bench restarts the operator on purpose, is closed once the new process runs.
	planned chan struct{}
	// exited is closed when the supervisor has given up or been stopped.
	exited chan struct{}
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
	metricsPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	p := &operatorProcess{
		name:        name,
		manager:     manager,
		env:         append(os.Environ(), "KUBECONFIG="+c.kubeconfig),
		metricsAddr: fmt.Sprintf("127.0.0.1:%d", metricsPort),
		probeAddr:   fmt.Sprintf("127.0.0.1:%d", probePort),
		logPath:     filepath.Join(c.dir, name+".log"),
		exited:      make(chan struct{}),
	}
	p.args = append([]string{
		"--leader-elect",
		"--leader-election-namespace=" + leaseNamespace,
		"--health-probe-bind-address=" + p.probeAddr,
		"--metrics-bind-address=" + p.metricsAddr,
		"--metrics-secure=false",
		fmt.Sprintf("--webhook-port=%d", webhookPort),
		"--webhook-cert-dir=" + c.env.WebhookInstallOptions.LocalServingCertDir,
	}, extraArgs...)
	if p.logFile, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	cmd, err := p.spawn()
	if err != nil {
		_ = p.logFile.Close()
		return nil, err
	}
	logf("%s started: pid %d, args %s", name, cmd.Process.Pid, strings.Join(p.args, " "))
	go p.supervise(cmd)
	return p, nil
}

// errStopping is spawn's answer once the bench is stopping the operator.
var errStopping = errors.New("the bench is stopping it")

// spawn starts one operator process, unless the bench is stopping the operator: checked under the same lock stop
// takes, so that stop always signals the last process started.
func (p *operatorProcess) spawn() (*exec.Cmd, error) {
	cmd := exec.Command(p.manager, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	// If the bench dies without cleaning up (SIGKILL), the kernel stops the operator too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return nil, errStopping
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.manager, err)
	}
	p.cmd, p.gone = cmd, make(chan struct{})
	return cmd, nil
}

// supervise waits for the operator to exit and, unless the bench is stopping it, starts it again: at once when the
// bench restarts it on purpose (restart), after a second otherwise, as the kubelet would. Only exits the bench did
// not cause count as restarts.
func (p *operatorProcess) supervise(cmd *exec.Cmd) {
	defer close(p.exited)
	defer func() { _ = p.logFile.Close() }()
	for {
		err := cmd.Wait()
		p.mu.Lock()
		close(p.gone)
		stopping, planned, killed := p.stopping, p.planned, p.killed == cmd
		p.planned, p.killed = nil, nil
		if !stopping && planned == nil && !killed {
			p.restarts = append(p.restarts, fmt.Sprintf("%s %v: %s", time.Now().Format("15:04:05"), err, stopReason(p.logPath)))
		}
		p.mu.Unlock()
		if stopping {
			return
		}
		if planned == nil {
			if killed {
				logf("%s: pid %d exited after the bench's signal (%v); restarting it in a second, as the kubelet would", p.name, cmd.Process.Pid, err)
			} else {
				logf("the %s exited on its own (%v; its log says why); restarting it, as the kubelet would", p.name, err)
			}
			time.Sleep(time.Second)
		}
		if cmd, err = p.spawn(); errors.Is(err, errStopping) {
			return // stop came during the second; the process it signalled is gone already.
		} else if err != nil {
			logf("restarting the %s: %v", p.name, err)
			return
		}
		if planned != nil {
			close(planned)
		}
	}
}

// kill sends sig to the running process on purpose, to test failover: the supervisor restarts it a second after
// it exits, as the kubelet restarts a killed pod, without counting that as an exit on its own. It returns a
// channel closed once the process has exited.
func (p *operatorProcess) kill(sig syscall.Signal) (<-chan struct{}, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping || p.planned != nil || p.killed != nil {
		return nil, fmt.Errorf("the %s is already stopping, restarting or being killed", p.name)
	}
	select {
	case <-p.gone:
		return nil, fmt.Errorf("the %s is not running (being restarted)", p.name)
	default:
	}
	p.killed = p.cmd
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.killed = nil
		return nil, fmt.Errorf("signalling the %s: %w", p.name, err)
	}
	return p.gone, nil
}

// restart stops the operator (SIGTERM, killed after 15 s) and starts it again at once, as a rollout would; the
// supervisor does not count it as a restart of its own. It returns when the new process runs, before it is ready
// (see waitReady).
func (p *operatorProcess) restart() error {
	respawned := make(chan struct{})
	p.mu.Lock()
	if p.stopping || p.planned != nil {
		p.mu.Unlock()
		return fmt.Errorf("the %s is already stopping or restarting", p.name)
	}
	p.planned = respawned
	proc := p.cmd.Process
	p.mu.Unlock()
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-respawned:
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = proc.Kill()
	}
	select {
	case <-respawned:
		logf("%s restarted: pid %d", p.name, p.pid())
		return nil
	case <-p.exited:
		return fmt.Errorf("the %s could not be started again", p.name)
	}
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
	case <-p.exited:
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

// pid is the current operator process's id.
func (p *operatorProcess) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// restartLog returns why the operator had to be restarted, one entry per restart.
func (p *operatorProcess) restartLog() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.restarts)
}

// stop asks the operator to stop (SIGTERM, as the kubelet does) and kills it if it does not within 15 s.
func (p *operatorProcess) stop() {
	p.mu.Lock()
	p.stopping = true
	proc := p.cmd.Process
	p.mu.Unlock()
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = proc.Kill()
		<-p.exited
	}
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
