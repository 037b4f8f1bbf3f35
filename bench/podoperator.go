package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/uuid"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// The memory scenarios of issues 27 and 32 (labelled-memory, copies-100k) run the operator as its pod runs it,
// because a memory figure only means something under the limit and with the rights the operator has there: it
// authenticates as the ServiceAccount that config/rbac binds (no cluster-admin), and gets MEMORY_LIMIT from the
// container's memory limit in config/manager/manager.yaml (what the CSV carries), so main.go sets Go's soft limit
// as in the pod. There is no cgroup limit: past it the process keeps running, where the pod would be OOM-killed,
// so that the figure says by how much.

// operatorServiceAccount is the ServiceAccount config/rbac binds; kustomize puts it, and the namespaced roles, in
// the deployment's namespace, written "system" in config/rbac. The bench uses leaseNamespace for it.
const (
	operatorServiceAccount = "controller-manager"
	rbacNamespace          = "system"
)

// podOperatorName tells the pod-like operator apart in the bench's log.
const podOperatorName = "pod-operator"

// operatorUser is the user name the API server gives the operator's ServiceAccount token; RBAC subjects of kind
// ServiceAccount match it, so the bindings of config/rbac apply as they are.
func operatorUser() string {
	return "system:serviceaccount:" + leaseNamespace + ":" + operatorServiceAccount
}

// operatorKubeconfig installs the roles and bindings config/rbac (dir) gives the operator's ServiceAccount and
// returns a kubeconfig that authenticates as it. Only what binds the ServiceAccount is installed (the scaffolded
// admin, editor and viewer roles are for people); the namespace "system" becomes leaseNamespace. Once per run.
func (c *cluster) operatorKubeconfig(ctx context.Context, dir string) (string, error) {
	if c.operatorConfig != "" {
		return c.operatorConfig, nil
	}
	objs, err := readManifests(dir)
	if err != nil {
		return "", err
	}
	var bindings, roles []*unstructured.Unstructured
	for _, obj := range objs {
		switch obj.GetKind() {
		case "ClusterRoleBinding", "RoleBinding":
			if bindsOperator(obj) {
				bindings = append(bindings, obj)
			}
		case "ClusterRole", "Role":
			roles = append(roles, obj)
		}
	}
	if len(bindings) == 0 {
		return "", fmt.Errorf("no binding in %s names the ServiceAccount %s", dir, operatorServiceAccount)
	}
	for _, binding := range bindings {
		kind, _, _ := unstructured.NestedString(binding.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name")
		i := slices.IndexFunc(roles, func(r *unstructured.Unstructured) bool { return r.GetKind() == kind && r.GetName() == name })
		if i < 0 {
			return "", fmt.Errorf("%s %s binds %s %s, which is not in %s", binding.GetKind(), binding.GetName(), kind, name, dir)
		}
		for _, obj := range []*unstructured.Unstructured{roles[i].DeepCopy(), binding.DeepCopy()} {
			if err := c.createInOperatorNamespace(ctx, obj); err != nil {
				return "", err
			}
		}
	}
	user, err := c.env.AddUser(envtest.User{Name: operatorUser(),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + leaseNamespace, "system:authenticated"}}, nil)
	if err != nil {
		return "", fmt.Errorf("adding the operator's user: %w", err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, "operator.kubeconfig")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return "", err
	}
	c.operatorConfig = path
	return path, nil
}

// readManifests decodes every YAML file of dir but its kustomization.
func readManifests(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f) //nolint:gosec // A manifest of this repository.
		if err != nil {
			return nil, err
		}
		objs, err := manifests.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// bindsOperator reports whether a (Cluster)RoleBinding has the operator's ServiceAccount among its subjects.
func bindsOperator(binding *unstructured.Unstructured) bool {
	subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects")
	for _, s := range subjects {
		m, _ := s.(map[string]any)
		if m["kind"] == "ServiceAccount" && m["name"] == operatorServiceAccount {
			return true
		}
	}
	return false
}

// createInOperatorNamespace creates obj with kustomize's namespace replaced by leaseNamespace, in its metadata and
// its ServiceAccount subjects; one that exists already is left as it is.
func (c *cluster) createInOperatorNamespace(ctx context.Context, obj *unstructured.Unstructured) error {
	if obj.GetNamespace() == rbacNamespace {
		obj.SetNamespace(leaseNamespace)
	}
	if subjects, ok, _ := unstructured.NestedSlice(obj.Object, "subjects"); ok {
		for _, s := range subjects {
			if m, _ := s.(map[string]any); m["namespace"] == rbacNamespace {
				m["namespace"] = leaseNamespace
			}
		}
		if err := unstructured.SetNestedSlice(obj.Object, subjects, "subjects"); err != nil {
			return err
		}
	}
	if err := c.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return nil
}

// containerMemoryLimit returns the memory limit in bytes of the manager container in the Deployment of path
// (config/manager/manager.yaml, from which the CSV's deployment is built).
func containerMemoryLimit(path string) (int64, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // A manifest of this repository.
	if err != nil {
		return 0, err
	}
	objs, err := manifests.Decode(raw)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	for _, obj := range objs {
		if obj.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		for _, ctr := range containers {
			m, _ := ctr.(map[string]any)
			if m["name"] != "manager" {
				continue
			}
			limit, ok, _ := unstructured.NestedString(m, "resources", "limits", "memory")
			if !ok {
				return 0, fmt.Errorf("%s: the manager container has no memory limit", path)
			}
			q, err := resource.ParseQuantity(limit)
			if err != nil {
				return 0, fmt.Errorf("%s: memory limit %q: %w", path, limit, err)
			}
			return q.Value(), nil
		}
	}
	return 0, fmt.Errorf("%s: no Deployment with a manager container", path)
}

// podEnv is the pod-like operator's environment: the bench's, without what would change how the Go runtime
// manages memory (the pod sets none of it), plus what the downward API gives the container: its memory limit, and
// the pod's namespace, name and UID. A restart by the supervisor keeps them, as a restart by the kubelet keeps the
// pod: the restarted process holds the Lease under the same identity (operator.LeaderIdentity).
func podEnv(memoryLimit int64, podUID string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"GOGC", "GOMEMLIMIT", "MEMORY_LIMIT", "GODEBUG",
			operator.PodNamespaceEnv, operator.PodNameEnv, operator.PodUIDEnv}, name)
	})
	return append(env, "MEMORY_LIMIT="+strconv.FormatInt(memoryLimit, 10), operator.PodNamespaceEnv+"="+leaseNamespace,
		operator.PodNameEnv+"="+podOperatorName, operator.PodUIDEnv+"="+podUID)
}

// startPodOperator starts the operator as its pod runs it (see the top of this file), serving the webhooks the
// API server calls, and waits until it leads. former is the Lease holder of the process it replaces.
func (b *bench) startPodOperator(ctx context.Context, former string) (*operatorProcess, error) {
	kubeconfig, err := b.c.operatorKubeconfig(ctx, b.cfg.rbac)
	if err != nil {
		return nil, err
	}
	limit := int64(b.cfg.memoryLimit)
	if limit == 0 {
		if limit, err = containerMemoryLimit(b.cfg.managerManifest); err != nil {
			return nil, err
		}
	}
	p, err := startReplicaWith(b.c, b.cfg.manager, podOperatorName, b.c.env.WebhookInstallOptions.LocalServingPort,
		b.cfg.operatorArgs, replicaOptions{kubeconfig: kubeconfig, env: podEnv(limit, string(uuid.NewUUID()))})
	if err != nil {
		return nil, err
	}
	p.memoryLimit, b.podMemoryLimit = limit, limit
	logf("%s: user %s (config/rbac), MEMORY_LIMIT=%d", podOperatorName, operatorUser(), limit)
	if err := p.waitReady(ctx, b.c, former); err != nil {
		p.tailLog(40)
		p.stop()
		return nil, err
	}
	return p, nil
}

// withPodOperator stops the operator, runs fn with the pod-like operator in its place (b.op), and then, unless fn
// is the run's last scenario, puts back a new operator like the one the run started with, for the scenarios that
// follow. The last scenario leaves the pod-like operator running: the run stops it, and a plain operator would
// only have to list what the scenario left behind.
func (b *bench) withPodOperator(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	former, err := b.c.leaseHolder(ctx)
	if err != nil {
		return err
	}
	b.retire()
	pod, err := b.startPodOperator(ctx, former)
	if err != nil {
		return err
	}
	b.op = pod
	if err := fn(ctx); err != nil || b.lastScenario {
		return err
	}
	if former, err = b.c.leaseHolder(ctx); err != nil {
		return err
	}
	b.retire()
	op, err := startOperator(b.c, b.cfg.manager, b.cfg.operatorArgs)
	if err != nil {
		return err
	}
	b.op = op
	return op.waitReady(ctx, b.c, former)
}

// retire stops b.op for good, keeping its exits on its own for the stability figure.
func (b *bench) retire() {
	logf("stopping the %s (pid %d)", b.op.name, b.op.PID())
	b.op.stop()
	for _, r := range b.op.UnplannedExits() {
		b.otherRestarts = append(b.otherRestarts, b.op.name+": "+r)
	}
}
