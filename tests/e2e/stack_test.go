//go:build e2e

// Package e2e runs the operator through real OLM: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler built from the pinned Kubernetes source, kwok as the kubelet, OLM v0's olm and catalog operators,
// and opm serving catalog/. Run it with `make test-e2e`, which starts it inside a network namespace of its own.
package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// stack is the running control plane, OLM and catalog.
type stack struct {
	env        *envtest.Environment
	kubeconfig string
	k8s        client.Client
	procs      []*exec.Cmd
	logs       string
}

var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// startStack starts everything, in order, and registers its teardown.
func startStack(t *testing.T) *stack {
	t.Helper()
	logs, err := os.MkdirTemp("", "configmapsync-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	// envtest logs through controller-runtime; the stack's own logs go to files.
	logf.SetLogger(logr.Discard())
	s := &stack{logs: logs}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("logs of the stack kept in %s", logs)
			return
		}
		_ = os.RemoveAll(logs)
	})

	olmCRDs, err := goModDir("github.com/operator-framework/api")
	if err != nil {
		t.Fatal(err)
	}
	s.env = &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(olmCRDs, "crds"), filepath.Join("testdata", "crds")}}
	apiserver := s.env.ControlPlane.GetAPIServer()
	apiserver.Configure().Set("service-cluster-ip-range", "10.0.0.0/24")
	// The namespace has no default route to pick an address from: advertise the host address the Makefile
	// put on its loopback.
	apiserver.Configure().Set("advertise-address", "10.1.0.1")
	if os.Getenv("E2E_VERBOSE") != "" {
		apiserver.Out, apiserver.Err = os.Stderr, os.Stderr
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

	assets := os.Getenv("KUBEBUILDER_ASSETS")
	s.start(t, "kube-controller-manager", filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+s.kubeconfig, "--controllers=deployment,replicaset,garbagecollector,namespace",
		"--leader-elect=false", "--secure-port=0")
	s.start(t, "kube-scheduler", filepath.Join(assets, "kube-scheduler"),
		"--kubeconfig="+s.kubeconfig, "--leader-elect=false", "--secure-port=0")
	s.start(t, "kwok", os.Getenv("KWOK"), "--kubeconfig="+s.kubeconfig, "--manage-all-nodes=true",
		"-c", os.Getenv("KWOK_STAGES"))
	s.addNode(t)

	s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "olm"}})
	s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "operators"}})
	s.start(t, "olm", os.Getenv("OLM_DIR")+"/olm", "--namespace=olm") // Reads KUBECONFIG.
	s.start(t, "catalog", os.Getenv("OLM_DIR")+"/catalog", "--namespace=olm", "--kubeconfig="+s.kubeconfig)
	s.start(t, "opm", os.Getenv("OPM"), "serve", inlineCatalog(t, s.logs), "-p", "50051")
	return s
}

// inlineCatalog writes catalog/ into dir with each bundle's image reference cleared, and returns its folder. With
// an image, OLM v0 unpacks the bundle by running a Job of the bundle image on a node; kwok's node runs nothing,
// so this stack installs the same bundles from the catalog's inline objects (olm.bundle.object), which OLM uses
// when a bundle has no image. Channels, upgrade edges and manifests are the shipped catalog's.
func inlineCatalog(t *testing.T, dir string) string {
	t.Helper()
	shipped := filepath.Join(repoRoot, "catalog", packageName, "catalog.yaml")
	raw, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	bundleImage := regexp.MustCompile(`(?m)^image: \S+$`)
	if len(bundleImage.FindAll(raw, -1)) == 0 {
		t.Fatalf("%s names no bundle image", shipped)
	}
	out := filepath.Join(dir, "catalog")
	if err := os.MkdirAll(filepath.Join(out, packageName), 0o755); err != nil {
		t.Fatal(err)
	}
	inline := bundleImage.ReplaceAll(raw, []byte(`image: ""`))
	if err := os.WriteFile(filepath.Join(out, packageName, "catalog.yaml"), inline, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// start runs a process of the stack, logging to a file kept for a failed test.
func (s *stack) start(t *testing.T, name, path string, args ...string) {
	t.Helper()
	log, err := os.Create(filepath.Join(s.logs, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
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
	if s.env != nil {
		_ = s.env.Stop()
	}
}

// addNode registers the fake node kwok manages and lifts the not-ready taint no node-lifecycle controller clears.
func (s *stack) addNode(t *testing.T) {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kwok-node-0",
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels:      map[string]string{"kubernetes.io/hostname": "kwok-node-0", "type": "kwok"}}}
	s.apply(t, node)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := s.k8s.Get(context.Background(), client.ObjectKeyFromObject(node), node); err == nil {
			node.Spec.Taints = nil
			if err := s.k8s.Update(context.Background(), node); err == nil {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("could not untaint the kwok node")
}

func (s *stack) apply(t *testing.T, obj client.Object) {
	t.Helper()
	if err := s.k8s.Create(context.Background(), obj); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// goModDir returns the folder of a module the project requires.
func goModDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	return string(bytes.TrimSpace(out)), err
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
