//go:build e2e

package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestMain runs the suite or, when E2E_CLUSTER names a folder (`make cluster`), only TestLocalCluster, which is
// not a test but the suite's cluster kept running for a person to use (the stack fails and cleans up through a
// *testing.T, so the cluster runs as one).
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv("E2E_CLUSTER") != "" {
		mustSet("test.run", "^TestLocalCluster$")
		mustSet("test.timeout", "0")
	} else if flag.Lookup("test.skip").Value.String() == "" {
		mustSet("test.skip", "^TestLocalCluster$")
	}
	os.Exit(m.Run())
}

func mustSet(name, value string) {
	if err := flag.Set(name, value); err != nil {
		panic(err)
	}
}

// TestLocalCluster serves the cluster for `make cluster`; TestMain runs it only then.
func TestLocalCluster(t *testing.T) { serveCluster(t, os.Getenv("E2E_CLUSTER")) }

// serveCluster starts the stack with the operator's CatalogSource, writes the kubeconfig, this process's pid (whose
// namespaces `make cluster-shell` enters) and the node's containerd socket into dir, and waits for SIGINT or SIGTERM.
func serveCluster(t *testing.T, dir string) {
	s := startStack(t, false)
	s.addCatalogSource(t)
	s.checkCatalogServedFromItsImage(t, csvName(currentVersion))
	raw, err := os.ReadFile(s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	pid := filepath.Join(dir, "pid")
	socket := filepath.Join(dir, "containerd.sock")
	defer func() { // They would point at a cluster that is gone.
		for _, f := range []string{pid, kubeconfig, socket} {
			_ = os.Remove(f)
		}
	}()
	if err := os.WriteFile(kubeconfig, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pid, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	// crictl's endpoint in make cluster-shell: the node's containerd.
	if err := os.WriteFile(socket, []byte(s.node.Socket()), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Printf(`
The cluster is up: a node, OLM, and the CatalogSource %s/%s serving %s.
From another terminal, run make cluster-shell: a shell in the cluster's namespaces, with KUBECONFIG=%s,
kubectl, and crictl for the node's containers.
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
