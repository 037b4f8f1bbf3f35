//go:build e2e

// Package e2e runs the operator through real OLM on a real node: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the pinned Kubernetes source, a node of containerd, runc, kubelet and kube-proxy
// (tests/node) running the operator image, OLM v0's olm and catalog operators, and opm serving the catalog. Run it
// with `make test-e2e`, which starts it inside network and mount namespaces of its own.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
	"github.com/configmapsync/configmapsync-operator/tests/node"
)

// stack is the running control plane, OLM and catalog.
type stack struct {
	env        *envtest.Environment
	kubeconfig string
	k8s        client.Client
	procs      []*exec.Cmd
	logs       string
	node       *node.Node
	nodeDir    string
	// clientset reads pod logs (through the API server and the kubelet, as kubectl logs does).
	clientset *kubernetes.Clientset
	// kubeletClientCA is the CA of the API server's client certificate for the kubelet.
	kubeletClientCA string
	// catalogImage is the operator's catalog image.
	catalogImage string
	// digests are the digests of the images the registry serves, by reference.
	digests map[string]string
}

// repoRoot is the repository's root folder.
var repoRoot = harness.RepoRoot

// startStack starts everything, in order, and registers its teardown. With prometheus, the cluster has the
// Prometheus Operator's CRDs (as OpenShift has); without, it is vanilla Kubernetes with OLM.
func startStack(t *testing.T, prometheus bool) *stack {
	t.Helper()
	s := startCluster(t, prometheus)
	s.installOLM(t, os.Getenv("OLM_RELEASE"))
	return s
}

// startCluster starts the control plane, the node and the cluster DNS, with OLM's CRDs but not OLM, and registers
// their teardown.
func startCluster(t *testing.T, prometheus bool) *stack {
	t.Helper()
	logs, err := os.MkdirTemp("", "configmapsync-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// envtest logs through controller-runtime; the stack's own logs go to files.
	logf.SetLogger(logr.Discard())
	s := &stack{logs: logs}
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpState(logs)
		}
		s.stop()
		if t.Failed() {
			t.Logf("logs of the stack kept in %s, of the node in %s", logs, s.nodeDir)
			return
		}
		_ = os.RemoveAll(logs)
		if s.nodeDir != "" {
			_ = os.RemoveAll(s.nodeDir)
		}
	})

	olmRelease := os.Getenv("OLM_RELEASE")
	if olmRelease == "" {
		t.Fatal("OLM_RELEASE (OLM's release manifests, rendered by hack/olm-release.sh) is not set; run `make test-e2e`")
	}
	// OLM's CRDs from its release manifests (crds.yaml), installed and waited for as its install.sh does.
	crds := []string{filepath.Join(olmRelease, "crds.yaml")}
	if prometheus {
		crds = append(crds, filepath.Join(repoRoot, "tests", "testdata", "prometheus-crds"))
	}
	s.env = &envtest.Environment{CRDDirectoryPaths: crds}
	apiserver := s.env.ControlPlane.GetAPIServer()
	apiserver.Configure().Set("service-cluster-ip-range", "10.0.0.0/24")
	// The namespace has no default route to pick an address from: advertise the host address the Makefile
	// put on its loopback.
	apiserver.Configure().Set("advertise-address", nodeIP)
	// Pods reach the API server through the kubernetes Service (10.0.0.1), which kube-proxy sends to the
	// advertised address: listen on every address of the namespace (envtest binds to 127.0.0.1), and have envtest
	// name the Service address in the serving certificate it makes (it names the address it is told to serve on,
	// which lives on the namespace's loopback with the rest of the service range).
	apiserver.Address = "10.0.0.1"
	apiserver.Port = freePort(t, "10.0.0.1") // envtest picks both, or neither.
	apiserver.Configure().Set("bind-address", "0.0.0.0")
	// No DNS for node names here: the API server reaches the kubelet (logs, exec) at the node's address.
	apiserver.Configure().Set("kubelet-preferred-address-types", "InternalIP")
	// envtest turns the ServiceAccount admission plugin off; pods on a real node need it to get their tokens.
	apiserver.Configure().Disable("disable-admission-plugins")
	if os.Getenv("E2E_VERBOSE") != "" {
		apiserver.Out, apiserver.Err = os.Stderr, os.Stderr
	}
	// The API server calls the kubelet (logs, exec) with a client certificate the kubelet trusts.
	kubeletClient, err := node.NewClientCerts(s.logs, node.APIServerClientUser)
	if err != nil {
		t.Fatal(err)
	}
	s.kubeletClientCA = kubeletClient.CAFile
	apiserver.Configure().Set("kubelet-client-certificate", kubeletClient.CertFile)
	apiserver.Configure().Set("kubelet-client-key", kubeletClient.KeyFile)
	// The aggregation layer (OLM's packageserver serves packagemanifests through it) proxies requests with a client
	// certificate of its own, which aggregated API servers trust through extension-apiserver-authentication.
	frontProxy, err := node.NewClientCerts(s.logs, frontProxyUser)
	if err != nil {
		t.Fatal(err)
	}
	for flag, value := range map[string]string{
		"proxy-client-cert-file": frontProxy.CertFile, "proxy-client-key-file": frontProxy.KeyFile,
		"requestheader-client-ca-file": frontProxy.CAFile, "requestheader-allowed-names": frontProxyUser,
		"requestheader-username-headers": "X-Remote-User", "requestheader-group-headers": "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
	} {
		apiserver.Configure().Set(flag, value)
	}
	cfg, err := s.env.Start()
	if err != nil {
		t.Fatalf("starting etcd and kube-apiserver: %v", err)
	}
	admin, err := s.env.AddUser(envtest.User{Name: "e2e-admin", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	s.kubeconfig = filepath.Join(s.logs, "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if s.k8s, err = client.New(admin.Config(), client.Options{Scheme: operator.NewScheme()}); err != nil {
		t.Fatal(err)
	}
	if s.clientset, err = kubernetes.NewForConfig(admin.Config()); err != nil {
		t.Fatal(err)
	}
	s.apply(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "kube-apiserver-kubelet-client"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: node.APIServerClientUser}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:kubelet-api-admin"}})
	rootCA := filepath.Join(s.logs, "ca.crt")
	if err := os.WriteFile(rootCA, cfg.CAData, 0o600); err != nil {
		t.Fatal(err)
	}

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	s.start(t, "kube-controller-manager", filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+s.kubeconfig, "--root-ca-file="+rootCA, "--leader-elect=false", "--secure-port=0",
		// The token controller signs the tokens of service-account-token Secrets (the operator's scrape token)
		// with the key the API server verifies them with.
		"--service-account-private-key-file="+filepath.Join(apiserver.CertDir, "sa-signer.key"),
		// What pods on a node need (ServiceAccounts, kube-root-ca.crt for their projected tokens, EndpointSlices for
		// kube-proxy, the node lifecycle that lifts the not-ready taint), and what OLM and the suite use
		// (Deployments, Jobs, garbage collection, namespace deletion, service-account-token Secrets).
		"--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller,"+
			"serviceaccount-controller,root-ca-certificate-publisher-controller,endpointslice-controller,job-controller,"+
			"node-lifecycle-controller,serviceaccount-token-controller")
	s.start(t, "kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		"--kubeconfig="+s.kubeconfig, "--leader-elect=false", "--secure-port=0")
	s.startNode(t)

	s.applyFile(t, filepath.Join("testdata", "coredns.yaml"))
	s.waitForDeployment(t, "kube-system", "coredns")
	return s
}

// frontProxyUser is the aggregation layer's client certificate's user, as kubeadm names it.
const frontProxyUser = "front-proxy-client"

// freePort returns a TCP port free on host.
func freePort(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// dumpState writes the pods, events and nodes into dir (state.yaml), for a failed test.
func (s *stack) dumpState(dir string) {
	if s.k8s == nil {
		return
	}
	var out bytes.Buffer
	for _, list := range []client.ObjectList{&corev1.NodeList{}, &corev1.PodList{}, &corev1.EventList{}} {
		if err := s.k8s.List(context.Background(), list); err != nil {
			fmt.Fprintf(&out, "# listing %T: %v\n", list, err)
			continue
		}
		raw, _ := yaml.Marshal(list)
		out.Write(raw)
		out.WriteString("---\n")
	}
	_ = os.WriteFile(filepath.Join(dir, "state.yaml"), out.Bytes(), 0o600)
}

// start runs a process of the stack, logging to a file kept for a failed test.
func (s *stack) start(t *testing.T, name, path string, args ...string) {
	t.Helper()
	s.startIn(t, "", name, path, args...)
}

// startIn runs a process of the stack in the working directory dir, logging to a file kept for a failed test.
func (s *stack) startIn(t *testing.T, dir, name, path string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(s.logs, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // Gone with the test, even if it is killed.
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	s.procs = append(s.procs, cmd)
}

func (s *stack) stop() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		_ = s.procs[i].Process.Kill()
		_, _ = s.procs[i].Process.Wait()
	}
	if s.node != nil {
		s.node.Stop()
	}
	if s.env != nil {
		_ = s.env.Stop()
	}
}

func (s *stack) apply(t *testing.T, obj client.Object) {
	t.Helper()
	if err := s.k8s.Create(context.Background(), obj); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitFor polls get until done returns true.
func waitFor(t *testing.T, timeout time.Duration, what string, done func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	last := ""
	for time.Since(start) < timeout {
		ok, state := done()
		if ok {
			return time.Since(start)
		}
		last = state
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last state: %s)", timeout, what, last)
	return 0
}
