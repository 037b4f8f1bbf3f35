//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
	"github.com/configmapsync/configmapsync-operator/tests/harness/localport"
	"github.com/configmapsync/configmapsync-operator/tests/harness/supervisor"
)

// fleet runs the operator's replicas as bin/manager processes under tests/harness/supervisor, one per slot, which
// restarts any that exits, as a kubelet would. Slot i talks to the API server through the proxy's listener i and
// serves webhooks on its own port.
type fleet struct {
	proxy *proxy
	procs []*supervisor.Process
	ports []int // the replicas' webhook ports
	logs  []*os.File

	mu    sync.Mutex
	kills int
}

// startFleet starts one replica per proxy listener.
func startFleet(p *proxy) (*fleet, error) {
	f := &fleet{proxy: p}
	for slot := range p.addrs {
		if err := f.start(slot); err != nil {
			f.stop()
			return nil, err
		}
	}
	return f, nil
}

// managerFlags are the flags of a replica serving webhooks on port: leader election with short timings so that
// failovers happen within the test, fast retries, webhooks with envtest's serving certificate, and no other port.
func managerFlags(port int) operator.Flags {
	flags := operator.DefaultFlags()
	flags.LeaderElect, flags.LeaderElectionNamespace = true, "default"
	flags.LeaseDuration, flags.RenewDeadline, flags.RetryPeriod = 4*time.Second, 3*time.Second, time.Second
	flags.Operator.Controller.RetryBaseDelay, flags.Operator.Controller.RetryMaxDelay = 100*time.Millisecond, 2*time.Second
	flags.WebhookPort, flags.WebhookCertDir = port, env.WebhookInstallOptions.LocalServingCertDir
	flags.ProbeAddr, flags.MetricsAddr = "0", "0"
	return flags
}

// start runs slot's replica, logging to the slot's file.
func (f *fleet) start(slot int) error {
	port, err := localport.Free()
	if err != nil {
		return err
	}
	if err := writeKubeconfig(kubeconfigPath(slot), "http://"+f.proxy.addrs[slot]); err != nil {
		return err
	}
	log, err := supervisor.AppendOnly(filepath.Join(workDir, fmt.Sprintf("replica-%d.log", slot)))
	if err != nil {
		return err
	}
	f.logs = append(f.logs, log)
	proc, err := supervisor.Start(supervisor.Config{
		Binary: managerBinary, Args: managerFlags(port).Args(), Output: log,
		// Each slot is a pod: its restarted process keeps the pod's leader identity, as in a cluster.
		Env: append(os.Environ(), "KUBECONFIG="+kubeconfigPath(slot), operator.PodNameEnv+"="+fmt.Sprintf("chaos-replica-%d", slot),
			operator.PodUIDEnv+"="+fmt.Sprintf("chaos-%d-%d", slot, time.Now().UnixNano())),
		BeforeStart: func() { f.proxy.forgetLeader(slot) }, // Relearnt from the new process's first Lease write.
		GracePeriod: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	f.procs, f.ports = append(f.procs, proc), append(f.ports, port)
	return nil
}

// kill sends SIGKILL to slot's process (no graceful shutdown, no Lease release) and waits until it has exited.
func (f *fleet) kill(slot int) {
	gone, err := f.procs[slot].Kill(syscall.SIGKILL)
	if err != nil {
		return // Not running right now: between an exit and its restart.
	}
	f.mu.Lock()
	f.kills++
	f.mu.Unlock()
	<-gone
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
	return slot, f.procs[slot].Running()
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

// stop ends every process, gracefully first, all at once.
func (f *fleet) stop() {
	var wg sync.WaitGroup
	for _, p := range f.procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
	for _, log := range f.logs {
		_ = log.Close()
	}
}

// counts returns how many processes were started, killed by the test, and exited on their own (a replica that
// lost its lease stops, as designed).
func (f *fleet) counts() (starts, kills, exits int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		starts += p.Starts()
		exits += len(p.UnplannedExits())
	}
	return starts, f.kills, exits
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
