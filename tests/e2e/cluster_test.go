//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestMain runs the suite or, when E2E_CLUSTER names a folder (`make cluster`), starts the suite's cluster and
// keeps it running for a person to use until interrupted.
func TestMain(m *testing.M) {
	dir := os.Getenv("E2E_CLUSTER")
	if dir == "" {
		os.Exit(m.Run())
	}
	// The stack is built for tests (it fails and cleans up through a *testing.T), so the cluster runs as one.
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: "LocalCluster", F: func(t *testing.T) { serveCluster(t, dir) }}})
	if !ok {
		os.Exit(1)
	}
}

// serveCluster starts the stack with the operator's CatalogSource, writes the kubeconfig and this process's pid
// (whose namespaces `make cluster-shell` enters) into dir, and waits for SIGINT or SIGTERM.
func serveCluster(t *testing.T, dir string) {
	s := startStack(t)
	s.addCatalogSource(t)
	s.checkCatalogServedFromItsImage(t, csvName(currentVersion))
	raw, err := os.ReadFile(s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	pid := filepath.Join(dir, "pid")
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pid, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.Remove(pid) }()
	fmt.Printf(`
The cluster is up: a node, OLM, and the CatalogSource %s/%s serving %s.
From another terminal, run make cluster-shell: a shell in the cluster's namespaces, with KUBECONFIG=%s and kubectl.
There, for example:
  kubectl get packagemanifests %s
  kubectl apply -f - <<'YAML'
  apiVersion: operators.coreos.com/v1alpha1
  kind: Subscription
  metadata: {name: %s, namespace: %s}
  spec: {channel: stable, name: %s, source: %s, sourceNamespace: %s}
  YAML
  kubectl get csv -n %s -w
Ctrl-C here stops the cluster and removes everything.
`, olmNamespace, catalogSourceName, s.catalogImage, kubeconfig, packageName, packageName, operatorNamespace,
		packageName, catalogSourceName, olmNamespace, operatorNamespace)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	fmt.Println("Stopping the cluster")
}
