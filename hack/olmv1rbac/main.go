// Command olmv1rbac writes the least-privilege RBAC of the ServiceAccount an OLM v1 ClusterExtension installs the
// bundle under (config/olmv1/installer-rbac.yaml): what OLM v1 creates for bundle/ (tests/harness/olmv1 renders it
// as operator-controller does) decides every rule. `make olmv1-rbac` runs it; `make verify-generated` fails when the
// file drifts, and tests/olmv1rbac proves it on a real API server.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/tests/harness/olmv1"
)

func main() {
	bundle := flag.String("bundle", "bundle", "The registry+v1 bundle folder (with manifests/).")
	out := flag.String("out", "config/olmv1/installer-rbac.yaml", "The file to write.")
	in := olmv1.Install{}
	flag.StringVar(&in.Namespace, "namespace", "configmapsync", "The ClusterExtension's spec.namespace.")
	flag.StringVar(&in.ExtensionName, "extension", "configmapsync-operator", "The ClusterExtension's name.")
	flag.StringVar(&in.InstallerName, "installer", "configmapsync-operator-installer", "The installer ServiceAccount.")
	flag.Parse()
	if err := run(*bundle, *out, in); err != nil {
		fmt.Fprintln(os.Stderr, "olmv1rbac:", err)
		os.Exit(1)
	}
}

func run(bundleDir, out string, in olmv1.Install) error {
	b, err := olmv1.LoadBundle(bundleDir)
	if err != nil {
		return err
	}
	objs, err := olmv1.Render(b, in)
	if err != nil {
		return err
	}
	rbac, err := olmv1.InstallerRBAC(objs, in)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, obj := range rbac.Objects() {
		u, err := olmv1.ToUnstructured(obj)
		if err != nil {
			return err
		}
		data, err := yaml.Marshal(u.Object)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
