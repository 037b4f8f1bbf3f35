// Command demo runs the operator's main job on a local control plane: it starts etcd and kube-apiserver on
// loopback (the binaries in KUBEBUILDER_ASSETS), installs the CRDs, writes a kubeconfig for kubectl, starts
// bin/manager against it, applies config/samples and prints what the operator did. It runs until Ctrl-C (or,
// with --once, until the samples are synced) and then stops everything and removes its temporary files.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
	"github.com/configmapsync/configmapsync-operator/tests/harness/controlplane"
	"github.com/configmapsync/configmapsync-operator/tests/harness/supervisor"
)

func main() {
	manager := flag.String("manager", "bin/manager", "The operator binary to run.")
	crds := flag.String("crds", "config/crd/bases", "Folder with the CRDs to install.")
	webhooks := flag.String("webhooks", "config/webhook/manifests.yaml", "The webhook configurations to install.")
	samples := flag.String("samples", "config/samples", "Folder with the sample objects to apply.")
	once := flag.Bool("once", false, "Exit after the samples are synced instead of waiting for Ctrl-C.")
	logFile := flag.String("log", "bin/demo-operator.log", "Where the operator's JSON log goes; warnings and errors are also shown inline.")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *manager, *crds, *webhooks, *samples, *logFile, *once)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, manager, crds, webhooks, samples, logFile string, once bool) error {
	step("Starting etcd and kube-apiserver (KUBEBUILDER_ASSETS=%s)", os.Getenv("KUBEBUILDER_ASSETS"))
	// The scheme tells envtest which CRDs convert through the operator's /convert webhook; the webhook
	// configurations point the API server at the operator's webhook server on loopback.
	env, _, err := controlplane.Start(controlplane.Options{CRDPaths: []string{crds}, WebhookPaths: []string{webhooks}})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the control plane")
		_ = env.Stop()
	}()

	admin, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := writeKubeconfig(admin)
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(filepath.Dir(kubeconfig)) }()
	step("Control plane is up; use it with:\n    export KUBECONFIG=%s", kubeconfig)

	k8s, err := client.New(admin.Config(), client.Options{})
	if err != nil {
		return err
	}

	log, err := os.Create(logFile)
	if err != nil {
		return fmt.Errorf("creating the operator's log file: %w", err)
	}
	defer func() { _ = log.Close() }()
	step("Starting the operator: %s\n    its log: %s (warnings and errors are shown here too)", manager, logFile)
	wh := env.WebhookInstallOptions
	flags := operator.DefaultFlags()
	flags.ProbeAddr, flags.MetricsAddr = "0", "0"
	flags.WebhookPort, flags.WebhookCertDir = wh.LocalServingPort, wh.LocalServingCertDir
	logs, output := io.Pipe()
	go teeWarnings(logs, log, "    operator | ")
	mgr, err := supervisor.Start(supervisor.Config{
		Binary: manager, Args: flags.Args(), Env: append(os.Environ(), "KUBECONFIG="+kubeconfig), Output: output,
		NoRestart: true,
	})
	if err != nil {
		_ = output.Close()
		return err
	}
	defer func() {
		step("Stopping the operator")
		mgr.Stop()
		_ = output.Close()
	}()

	objs, err := readSamples(samples)
	if err != nil {
		return err
	}
	step("Applying %d objects from %s", len(objs), samples)
	for _, obj := range objs {
		if err := k8s.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		fmt.Printf("    created %s %s/%s\n", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}

	for _, obj := range objs {
		var err error
		switch obj.GetKind() {
		case "ConfigMapSync":
			err = showSync(ctx, k8s, obj)
		case "ManagedSecret":
			err = showManagedSecret(ctx, k8s, obj)
		}
		if err != nil {
			return err
		}
	}
	if once {
		return nil
	}
	step("The operator keeps running. Try:\n    export KUBECONFIG=%s\n"+
		"    kubectl -n demo-source edit configmap app-settings      # then\n"+
		"    kubectl -n demo-destination get configmap app-settings -o yaml\n"+
		"Press Ctrl-C to stop and clean up.", kubeconfig)
	<-ctx.Done()
	return nil
}

// showSync waits until a sample ConfigMapSync is Ready, then prints its status and the copies it owns.
func showSync(ctx context.Context, k8s client.Client, sample *unstructured.Unstructured) error {
	step("Waiting for %s ConfigMapSync %s/%s to sync", sample.GetAPIVersion(), sample.GetNamespace(), sample.GetName())
	cms := sample.DeepCopy()
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		if err := k8s.Get(deadline, client.ObjectKeyFromObject(sample), cms); err != nil {
			return err
		}
		status, _, _ := unstructured.NestedString(cms.Object, "status", "syncStatus")
		if status == "Synced" {
			break
		}
		select {
		case <-deadline.Done():
			return fmt.Errorf("ConfigMapSync %s/%s did not sync (syncStatus %q)", cms.GetNamespace(), cms.GetName(), status)
		case <-time.After(200 * time.Millisecond):
		}
	}
	printYAML("ConfigMapSync spec (as "+cms.GetAPIVersion()+")", cms.Object["spec"])
	printYAML("ConfigMapSync status", cms.Object["status"])

	copies := &unstructured.UnstructuredList{}
	copies.SetAPIVersion("v1")
	copies.SetKind("ConfigMapList")
	if err := k8s.List(ctx, copies, client.MatchingLabels{"sync.configmapsync.io/owner-uid": string(cms.GetUID())}); err != nil {
		return fmt.Errorf("listing the copies: %w", err)
	}
	for _, cp := range copies.Items {
		printYAML(fmt.Sprintf("The copy %s/%s", cp.GetNamespace(), cp.GetName()), map[string]any{
			"labels": cp.GetLabels(), "annotations": cp.GetAnnotations(), "data": cp.Object["data"],
		})
	}
	return nil
}

// showManagedSecret waits until a sample ManagedSecret is Ready, then prints its status and the keys (never the
// values) of the Secret it generated.
func showManagedSecret(ctx context.Context, k8s client.Client, sample *unstructured.Unstructured) error {
	step("Waiting for ManagedSecret %s/%s to generate its Secret", sample.GetNamespace(), sample.GetName())
	ms := sample.DeepCopy()
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for !isReady(ms) {
		select {
		case <-deadline.Done():
			return fmt.Errorf("ManagedSecret %s/%s did not become Ready", ms.GetNamespace(), ms.GetName())
		case <-time.After(200 * time.Millisecond):
		}
		if err := k8s.Get(deadline, client.ObjectKeyFromObject(sample), ms); err != nil {
			return err
		}
	}
	printYAML("ManagedSecret status", ms.Object["status"])
	name, _, _ := unstructured.NestedString(ms.Object, "status", "secretName")
	secret := &unstructured.Unstructured{}
	secret.SetAPIVersion("v1")
	secret.SetKind("Secret")
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ms.GetNamespace(), Name: name}, secret); err != nil {
		return fmt.Errorf("reading the generated Secret: %w", err)
	}
	data, _, _ := unstructured.NestedMap(secret.Object, "data")
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	printYAML(fmt.Sprintf("The generated Secret %s/%s (keys only)", secret.GetNamespace(), secret.GetName()),
		map[string]any{"labels": secret.GetLabels(), "keys": keys})
	return nil
}

// isReady reports whether an object's Ready condition is True.
func isReady(obj *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// readSamples decodes every object in the YAML files of dir (but kustomization.yaml), namespaces first.
func readSamples(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, file := range files {
		if filepath.Base(file) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		decoded, err := manifests.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		objs = append(objs, decoded...)
	}
	order := map[string]int{"Namespace": 0, "ConfigMap": 1, "Secret": 1}
	rank := func(o *unstructured.Unstructured) int {
		if r, ok := order[o.GetKind()]; ok {
			return r
		}
		return 2
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return objs, nil
}

func writeKubeconfig(user *envtest.AuthenticatedUser) (string, error) {
	raw, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "configmapsync-demo-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, raw, 0o600)
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func printYAML(title string, v any) {
	out, _ := yaml.Marshal(v)
	fmt.Printf("\n--- %s\n%s", title, indent(string(out)))
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// teeWarnings copies the operator's JSON log lines to log, and prints the message of those at warning level or
// above with prefix, so the walkthrough stays readable and problems still show.
func teeWarnings(r io.Reader, log io.Writer, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = log.Write(append(line, '\n'))
		var entry struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal(line, &entry) != nil {
			fmt.Println(prefix + string(line)) // Not a log entry (a panic, say): show it.
			continue
		}
		switch entry.Level {
		case "debug", "info", "":
			continue
		}
		msg := prefix + strings.ToUpper(entry.Level) + " " + entry.Msg
		if entry.Error != "" {
			msg += ": " + entry.Error
		}
		fmt.Println(msg)
	}
}
