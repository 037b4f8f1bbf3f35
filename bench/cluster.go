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

// leaseName is the operator's leader-election Lease (main.go's LeaderElectionID).
const leaseName = "configmapsync-operator.sync.configmapsync.io"

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

// startCluster starts etcd and kube-apiserver from KUBEBUILDER_ASSETS, installs the CRDs (with conversion
// through the operator's /convert) and the webhook configurations, and writes an admin kubeconfig.
func startCluster(crds, webhooks string) (*cluster, error) {
	env := &envtest.Environment{
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
	manager     string
	args, env   []string
	metricsAddr string
	probeAddr   string
	logPath     string
	logFile     *os.File

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	restarts []string // why each restart was needed
	// exited is closed when the supervisor has given up or been stopped.
	exited chan struct{}
}

// startOperator runs the operator binary with the production flags of config/manager/manager.yaml (leader
// election, health probes, metrics) plus what running outside a pod needs: the Lease namespace, plain-HTTP metrics
// on loopback so the bench can scrape them, and the webhook port and certificate envtest prepared. extraArgs come
// last so they override.
func startOperator(c *cluster, manager string, extraArgs []string) (*operatorProcess, error) {
	metricsPort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	probePort, err := harness.FreePort()
	if err != nil {
		return nil, err
	}
	p := &operatorProcess{
		manager:     manager,
		env:         append(os.Environ(), "KUBECONFIG="+c.kubeconfig),
		metricsAddr: fmt.Sprintf("127.0.0.1:%d", metricsPort),
		probeAddr:   fmt.Sprintf("127.0.0.1:%d", probePort),
		logPath:     filepath.Join(c.dir, "operator.log"),
		exited:      make(chan struct{}),
	}
	wh := c.env.WebhookInstallOptions
	p.args = append([]string{
		"--leader-elect",
		"--leader-election-namespace=" + leaseNamespace,
		"--health-probe-bind-address=" + p.probeAddr,
		"--metrics-bind-address=" + p.metricsAddr,
		"--metrics-secure=false",
		fmt.Sprintf("--webhook-port=%d", wh.LocalServingPort),
		"--webhook-cert-dir=" + wh.LocalServingCertDir,
	}, extraArgs...)
	if p.logFile, err = os.Create(p.logPath); err != nil {
		return nil, err
	}
	cmd, err := p.spawn()
	if err != nil {
		_ = p.logFile.Close()
		return nil, err
	}
	logf("operator started: pid %d, args %s", cmd.Process.Pid, strings.Join(p.args, " "))
	go p.supervise(cmd)
	return p, nil
}

// spawn starts one operator process.
func (p *operatorProcess) spawn() (*exec.Cmd, error) {
	cmd := exec.Command(p.manager, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	// If the bench dies without cleaning up (SIGKILL), the kernel stops the operator too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", p.manager, err)
	}
	p.mu.Lock()
	p.cmd = cmd
	p.mu.Unlock()
	return cmd, nil
}

// supervise waits for the operator to exit and, unless the bench is stopping it, starts it again after a second.
func (p *operatorProcess) supervise(cmd *exec.Cmd) {
	defer close(p.exited)
	defer func() { _ = p.logFile.Close() }()
	for {
		err := cmd.Wait()
		p.mu.Lock()
		stopping := p.stopping
		if !stopping {
			p.restarts = append(p.restarts, fmt.Sprintf("%s %v: %s", time.Now().Format("15:04:05"), err, stopReason(p.logPath)))
		}
		p.mu.Unlock()
		if stopping {
			return
		}
		logf("the operator exited on its own (%v; its log says why); restarting it, as the kubelet would", err)
		time.Sleep(time.Second)
		if cmd, err = p.spawn(); err != nil {
			logf("restarting the operator: %v", err)
			return
		}
	}
}

// waitReady waits until the operator answers /readyz (its webhook server listens) and holds the Lease, so the
// scenarios measure syncing, not start-up.
func (p *operatorProcess) waitReady(ctx context.Context, c *cluster) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	url := "http://" + p.probeAddr + "/readyz"
	err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
		select {
		case <-p.exited:
			return false, errors.New("the operator exited and could not be restarted")
		default:
		}
		resp, err := http.Get(url) //nolint:gosec,noctx // Loopback URL built by the bench; poll bounds the time.
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, nil
		}
		lease, err := c.clientset.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the operator to be ready and lead: %w", err)
	}
	return nil
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
	logf("last %d lines of the operator's log:", len(lines))
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "    operator | "+l)
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
