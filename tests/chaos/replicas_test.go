//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// fleet runs the operator's replicas as bin/manager processes, one per slot, and restarts any that exits, as a
// kubelet would. Slot i talks to the API server through the proxy's listener i and serves webhooks on its own port.
type fleet struct {
	proxy *proxy

	mu       sync.Mutex
	procs    []*process
	ports    []int
	starts   int
	kills    int
	exits    int // exits the test did not cause: a replica that lost its lease stops, as designed
	stopping bool
	wg       sync.WaitGroup
}

// process is one run of bin/manager.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	killed bool
}

// alive reports whether the process still runs.
func (p *process) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// startFleet starts one replica per proxy listener.
func startFleet(p *proxy) (*fleet, error) {
	f := &fleet{proxy: p, procs: make([]*process, len(p.addrs))}
	for slot := range p.addrs {
		port, err := harness.FreePort()
		if err != nil {
			return nil, err
		}
		f.ports = append(f.ports, port)
		if err := writeKubeconfig(kubeconfigPath(slot), "http://"+p.addrs[slot]); err != nil {
			return nil, err
		}
	}
	for slot := range p.addrs {
		if err := f.start(slot); err != nil {
			f.stop()
			return nil, err
		}
	}
	return f, nil
}

// managerArgs are the flags of slot's replica: leader election with short timings so that failovers happen within
// the test, fast retries, webhooks on the slot's port with envtest's serving certificate, and no other port.
func (f *fleet) managerArgs(slot int) []string {
	return []string{
		"--leader-elect", "--leader-election-namespace=default",
		"--leader-election-lease-duration=4s", "--leader-election-renew-deadline=3s", "--leader-election-retry-period=1s",
		"--retry-base-delay=100ms", "--retry-max-delay=2s",
		"--webhook-port=" + strconv.Itoa(f.ports[slot]),
		"--webhook-cert-dir=" + env.WebhookInstallOptions.LocalServingCertDir,
		"--health-probe-bind-address=0", "--metrics-bind-address=0",
	}
}

// start runs a new process in slot, logging to the slot's file, and restarts it when it exits.
func (f *fleet) start(slot int) error {
	logFile, err := os.OpenFile(filepath.Join(workDir, fmt.Sprintf("replica-%d.log", slot)),
		os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(managerBinary, f.managerArgs(slot)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath(slot))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	f.proxy.forgetLeader(slot) // The new process has a new identity.
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return err
	}
	proc := &process{cmd: cmd, done: make(chan struct{})}
	f.mu.Lock()
	f.procs[slot] = proc
	f.starts++
	f.mu.Unlock()
	f.wg.Add(1)
	go f.supervise(slot, proc, logFile)
	return nil
}

// supervise waits for a process to exit and starts the slot again a second later, unless the fleet is stopping.
func (f *fleet) supervise(slot int, proc *process, logFile io.Closer) {
	defer f.wg.Done()
	_ = proc.cmd.Wait()
	_ = logFile.Close()
	close(proc.done)
	f.mu.Lock()
	if !proc.killed && !f.stopping {
		f.exits++
	}
	stopping := f.stopping
	f.mu.Unlock()
	if stopping {
		return
	}
	time.Sleep(time.Second)
	f.mu.Lock()
	stopping = f.stopping
	f.mu.Unlock()
	if !stopping {
		_ = f.start(slot)
	}
}

// kill sends SIGKILL to slot's process: no graceful shutdown, no Lease release.
func (f *fleet) kill(slot int) {
	f.mu.Lock()
	proc := f.procs[slot]
	if proc == nil || !proc.alive() {
		f.mu.Unlock()
		return
	}
	proc.killed = true
	f.kills++
	f.mu.Unlock()
	_ = proc.cmd.Process.Signal(syscall.SIGKILL)
	<-proc.done
}

// leader returns the slot whose process holds the leader-election Lease, if one is alive and holds it.
func (f *fleet) leader(ctx context.Context) (int, bool) {
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: "default", Name: leaseID}, lease); err != nil ||
		lease.Spec.HolderIdentity == nil {
		return 0, false
	}
	slot, ok := f.proxy.replicaHolding(*lease.Spec.HolderIdentity)
	if !ok {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slot, f.procs[slot] != nil && f.procs[slot].alive()
}

// killLeaders kills the leader every few seconds until ctx ends, and returns how many leaders it killed.
func (f *fleet) killLeaders(ctx context.Context, every func() time.Duration) int {
	killed := 0
	for {
		select {
		case <-ctx.Done():
			return killed
		case <-time.After(every()):
		}
		if slot, ok := f.leader(ctx); ok {
			f.kill(slot)
			killed++
		}
	}
}

// stop ends every process, gracefully first, and waits for the supervisors.
func (f *fleet) stop() {
	f.mu.Lock()
	f.stopping = true
	procs := append([]*process(nil), f.procs...)
	f.mu.Unlock()
	for _, p := range procs {
		if p != nil && p.alive() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range procs {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	}
	f.wg.Wait()
}

// counts returns how many processes were started, killed by the test, and exited on their own.
func (f *fleet) counts() (starts, kills, exits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.starts, f.kills, f.exits
}

// startWebhookForwarder forwards envtest's webhook address (where the webhook configurations and the CRD's
// conversion point) to the live replicas' webhook servers.
func startWebhookForwarder(f *fleet) (*harness.Forwarder, error) {
	wh := env.WebhookInstallOptions
	return harness.StartForwarder(net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort)), func() []string {
		addrs := make([]string, 0, len(f.ports))
		for _, port := range f.ports {
			addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		}
		return addrs
	})
}

// kubeconfigPath is where slot's kubeconfig lives.
func kubeconfigPath(slot int) string {
	return filepath.Join(workDir, fmt.Sprintf("kubeconfig-%d", slot))
}

// writeKubeconfig writes a kubeconfig for server without credentials: the proxy adds the admin's.
func writeKubeconfig(path, server string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["chaos"] = &clientcmdapi.Cluster{Server: server}
	cfg.AuthInfos["chaos"] = &clientcmdapi.AuthInfo{}
	cfg.Contexts["chaos"] = &clientcmdapi.Context{Cluster: "chaos", AuthInfo: "chaos"}
	cfg.CurrentContext = "chaos"
	return clientcmd.WriteToFile(*cfg, path)
}
