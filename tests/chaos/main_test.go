//go:build chaos

// Package chaos runs the operator as it ships (several bin/manager processes with leader election) behind a
// fault-injecting proxy, against a real kube-apiserver and etcd (envtest) with its CRDs and webhooks installed.
// While a workload creates, changes and deletes ConfigMapSyncs and their sources, the proxy answers some requests
// with errors, delays or dropped connections, the leader is killed again and again, and the API server restarts
// once. When the faults stop, the test gives the operator a bounded time to converge and then checks invariants
// that must hold whatever happened: copies equal their sources, nothing is orphaned or stuck, and nothing the
// operator does not own was touched.
package chaos

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
	"github.com/configmapsync/configmapsync-operator/tests/harness/controlplane"
)

var (
	// env is the control plane; its API server is restarted once by the test.
	env *envtest.Environment
	// k8s talks to the API server directly (no faults), with cluster-admin rights.
	k8s client.Client
	// managerBinary is the operator's binary the replicas run.
	managerBinary string
	// workDir holds the binary, kubeconfigs and replica logs; it is kept when a test fails.
	workDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// envtest logs through controller-runtime's logger; the operator's own logs go to files in workDir.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	var err error
	if workDir, err = os.MkdirTemp("", "configmapsync-chaos-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := runIn(m)
	if code != 0 {
		fmt.Fprintf(os.Stderr, "chaos: replica logs kept in %s\n", workDir)
	} else {
		_ = os.RemoveAll(workDir)
	}
	return code
}

func runIn(m *testing.M) int {
	var err error
	if managerBinary, err = buildManager(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if env, err = startControlPlane(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(env.Config, client.Options{Scheme: operator.NewScheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildManager builds the operator's binary from this checkout, unless CHAOS_MANAGER names one already built
// (handy to run the suite against a deliberately broken operator).
func buildManager() (string, error) {
	if prebuilt := os.Getenv("CHAOS_MANAGER"); prebuilt != "" {
		return prebuilt, nil
	}
	out := filepath.Join(workDir, "manager")
	cmd := exec.Command("go", "build", "-o", out, harness.OperatorModule)
	cmd.Dir = harness.RepoRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the manager: %w\n%s", err, msg)
	}
	return out, nil
}

// startControlPlane starts etcd and kube-apiserver with the operator's CRDs and webhooks, like harness.Start, but
// with the API server's certificate folder chosen here: envtest deletes a folder it picked itself when the API
// server stops, and a restart would then come up with a new serving CA that no client trusts.
func startControlPlane() (*envtest.Environment, error) {
	certDir := filepath.Join(workDir, "apiserver")
	if err := os.Mkdir(certDir, 0o700); err != nil {
		return nil, err
	}
	e, _, err := controlplane.Start(controlplane.Options{
		CRDPaths:         []string{harness.Path("config", "crd", "bases")},
		WebhookPaths:     []string{harness.Path("config", "webhook", "manifests.yaml")},
		APIServerCertDir: certDir,
		// Without a grace period for watches, a graceful stop waits for every open watch to end on its own (more
		// than envtest's 20 s stop timeout); with one, the API server closes them, as a rolling restart does.
		WatchTerminationGracePeriod: 2 * time.Second,
		// The restart happens while three operators and the workload load the machine: envtest's 20 s is short.
		StartTimeout: time.Minute,
	})
	return e, err
}
