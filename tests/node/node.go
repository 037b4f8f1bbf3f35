// Package node runs a real Kubernetes worker node on this machine, the way kind does inside a container but
// without one: containerd and runc (Debian's packages) with the CNI bridge plugins, kubelet and kube-proxy built
// from the pinned Kubernetes source. Pods run real images, pulled by containerd from registries mirrored to one on
// loopback; the kubelet enforces security contexts, limits and probes; kube-proxy programs Services with iptables.
//
// It is meant to run inside the network and mount namespaces a test creates (`make test-e2e` starts the suite in
// them): pod and service addresses then exist only there, and every mount and iptables rule goes with them. The
// machine's cgroups are shared, so Stop kills what the node started and removes its cgroups.
//
// What this machine needs (REFERENCE §8): cgroup v1 is accepted with failCgroupV1: false and the cgroupfs driver;
// processes here cannot lower oom_score_adj, hence containerd's restrict_oom_score_adj.
package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Config says how to run the node.
type Config struct {
	// Dir holds the node's state, configuration and logs. Keep it short: containerd's socket lives there.
	Dir string
	// Kubeconfig is the credentials of the kubelet and kube-proxy.
	Kubeconfig string
	// Name and IP of the node: the IP must be local (the API server reaches the kubelet there).
	Name, IP string
	// PodCIDR is the range the bridge gives pod addresses from, e.g. 10.244.0.0/24.
	PodCIDR string
	// ClusterDNS is the Service address of the cluster's DNS server, if it has one.
	ClusterDNS string
	// Kubelet and KubeProxy are the binaries built from the pinned Kubernetes source.
	Kubelet, KubeProxy string
	// Mirrors maps registry hosts (quay.io, registry.k8s.io) to the endpoint containerd pulls their images from,
	// e.g. http://127.0.0.1:5000.
	Mirrors map[string]string
	// SandboxImage is the pause image, by a name Mirrors serves.
	SandboxImage string
	// ClientCAFile is the CA of the client certificates the kubelet accepts: the API server's (NewClientCerts).
	ClientCAFile string
}

// Node is a running node.
type Node struct {
	cfg   Config
	procs []*exec.Cmd
}

// Start writes the configuration of containerd, the CNI, the kubelet and kube-proxy into cfg.Dir and starts them.
// The caller waits for the Node object to be Ready.
func Start(cfg Config) (*Node, error) {
	n := &Node{cfg: cfg}
	for _, dir := range []string{"containerd", "cni", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(n.path(dir), 0o755); err != nil {
			return nil, err
		}
	}
	files := map[string]string{
		"containerd/config.toml": n.containerdConfig(),
		"cni/10-bridge.conflist": n.cniConfig(),
		"kubelet/config.yaml":    n.kubeletConfig(),
		"kube-proxy.yaml":        n.kubeProxyConfig(),
		"resolv.conf":            "nameserver " + orDefault(cfg.ClusterDNS, "127.0.0.1") + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(n.path(name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	if err := n.start("containerd", "containerd", "--config", n.path("containerd", "config.toml")); err != nil {
		return nil, err
	}
	if err := waitForFile(n.socket(), 30*time.Second); err != nil {
		n.Stop()
		return nil, fmt.Errorf("containerd did not start (see %s): %w", n.path("containerd.log"), err)
	}
	if err := n.start("kubelet", cfg.Kubelet, "--config", n.path("kubelet", "config.yaml"),
		"--kubeconfig", cfg.Kubeconfig, "--root-dir", n.path("kubelet"), "--hostname-override", cfg.Name,
		"--node-ip", cfg.IP, "--v", "2"); err != nil {
		n.Stop()
		return nil, err
	}
	if err := n.start("kube-proxy", cfg.KubeProxy, "--config", n.path("kube-proxy.yaml")); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// Socket is containerd's CRI endpoint, for crictl.
func (n *Node) Socket() string { return n.socket() }

// LogDir is where each component logs (containerd.log, kubelet.log, kube-proxy.log).
func (n *Node) LogDir() string { return n.cfg.Dir }

func (n *Node) socket() string { return n.path("containerd", "containerd.sock") }

func (n *Node) path(elem ...string) string {
	return filepath.Join(append([]string{n.cfg.Dir}, elem...)...)
}

// start runs a component in the background, logging to <Dir>/<name>.log.
func (n *Node) start(name, binary string, args ...string) error {
	log, err := os.Create(n.path(name + ".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	n.procs = append(n.procs, cmd)
	return nil
}

// Stop stops kube-proxy, the kubelet and containerd, then kills whatever still runs in the node's pods (the
// containers and containerd's shims outlive containerd) and removes the pods' cgroups.
func (n *Node) Stop() {
	for i := len(n.procs) - 1; i >= 0; i-- {
		stopProcess(n.procs[i], 10*time.Second)
	}
	n.procs = nil
	killShims(n.socket())
	removePodCgroups()
	unmountUnder(n.cfg.Dir)
}

// unmountUnder detaches every mount below dir (containers' root filesystems, volumes), deepest first, so that
// the node's folder can be removed: their owners are gone, but nobody unmounted them.
func unmountUnder(dir string) {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// stopProcess sends SIGTERM and, after grace, SIGKILL.
func stopProcess(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// killShims kills containerd's runc shims of this node (their command line names its socket) and, with them, the
// containers they hold.
func killShims(socket string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), "containerd-shim") || !strings.Contains(string(cmdline), socket) {
			continue
		}
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removePodCgroups kills every process left in the kubelet's pod cgroups (/kubepods in each hierarchy) and
// removes those cgroups, deepest first.
func removePodCgroups() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if unified, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil && unified.IsDir() {
		roots = append(roots, "/sys/fs/cgroup/kubepods")
	}
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for _, dir := range dirs {
			procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
			for _, field := range strings.Fields(string(procs)) {
				var pid int
				if _, err := fmt.Sscan(field, &pid); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // Children sort after their parents.
		deadline := time.Now().Add(5 * time.Second)
		for _, dir := range dirs {
			for os.Remove(dir) != nil && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond) // Killed processes leave their cgroup shortly after.
			}
		}
	}
}

// waitForFile waits until path exists.
func waitForFile(path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("timed out waiting for " + path)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
