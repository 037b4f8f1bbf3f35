package node

import (
	"fmt"
	"sort"
	"strings"
)

// containerdConfig is containerd's configuration (version 2, containerd 1.6): its own root, state and socket,
// the CRI plugin with the pause image, the CNI folders, runc through the v2 shim, and the registry mirrors.
func (n *Node) containerdConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, `version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  # Processes on this machine cannot lower oom_score_adj; without this runc fails to start any container
  # ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = %q

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`, n.path("containerd", "root"), n.path("containerd", "state"), n.socket(), n.path("containerd", "opt"),
		n.cfg.SandboxImage, n.path("cni"))
	hosts := make([]string, 0, len(n.cfg.Mirrors))
	for host := range n.cfg.Mirrors {
		hosts = append(hosts, host)
	}
	sort.Strings(hosts)
	for _, host := range hosts {
		fmt.Fprintf(&b, "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n  endpoint = [%q]\n",
			host, n.cfg.Mirrors[host])
	}
	return b.String()
}

// cniConfig is the pod network: a bridge with addresses from PodCIDR, the node as gateway, and portmap for
// hostPort.
func (n *Node) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "pods",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
`, n.cfg.PodCIDR)
}

// kubeletConfig is the kubelet's configuration for this machine: cgroup v1 through cgroupfs, no swap check,
// containerd's socket, eviction and image garbage collection effectively off (the disk is shared with the rest of
// the machine), the API server's client certificate (logs, exec) and tokens checked through the API server, and
// pod logs in the node's folder.
func (n *Node) kubeletConfig() string {
	dns := ""
	if n.cfg.ClusterDNS != "" {
		dns = fmt.Sprintf("clusterDNS: [%q]\nclusterDomain: cluster.local\n", n.cfg.ClusterDNS)
	}
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
resolvConf: %s
%sauthentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization:
  mode: Webhook
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enforceNodeAllocatable: []
serializeImagePulls: false
`, n.socket(), n.path("pod-logs"), n.path("resolv.conf"), dns, n.cfg.ClientCAFile)
}

// kubeProxyConfig programs Services with iptables in the node's network namespace. It leaves the machine-wide
// conntrack limits alone (maxPerCore 0) and masquerades all Service traffic, so that a pod reaching a Service
// backed by a pod on the same bridge gets the answer back without br_netfilter.
func (n *Node) kubeProxyConfig() string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: %s
hostnameOverride: %s
clusterCIDR: %s
conntrack:
  maxPerCore: 0
iptables:
  masqueradeAll: true
`, n.cfg.Kubeconfig, n.cfg.Name, n.cfg.PodCIDR)
}
