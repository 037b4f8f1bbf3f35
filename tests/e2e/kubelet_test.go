//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// runner plays the kubelet for the operator's pods: kwok only marks pods Running, so for every Running pod of the
// operator's namespace the runner starts the binary of the pod's image as a local process, the way a kubelet would
// start the container:
//   - the container's args and env exactly (env fieldRefs resolved from the pod), plus the kubelet's
//     KUBERNETES_SERVICE_HOST/PORT;
//   - its own UTS and mount namespaces (unshare): the hostname is the pod name, a tmpfs over /run holds the
//     ServiceAccount token (TokenRequest bound to the pod), ca.crt and namespace file, and every secret volume is
//     mounted at its mountPath, so in-cluster config, leader-election namespace and webhook certificates come
//     from exactly what OLM created;
//   - a restart when the process exits while its pod lives (restartPolicy Always), and a stop when the pod goes.
//
// The only difference from a pod: the processes share one network namespace, so each listening port declared by
// the container is moved to a port of its own (portFlags) by flags appended after the container's args.
type runner struct {
	t         *testing.T
	s         *stack
	namespace string
	images    map[string]string // image → binary

	mu    sync.Mutex
	procs map[string]*podProcess // pod name → process
	next  int                    // next port block
	// skipped are the mount paths already reported as not mounted.
	skipped map[string]bool
	stop    chan struct{}
	done    chan struct{}
}

// podProcess is the process standing in for one pod's container.
type podProcess struct {
	pod      string
	uid      string
	cmd      *exec.Cmd
	exited   chan struct{}
	ports    map[int32]int // containerPort → local port
	restarts int
	gone     bool // the pod was deleted: do not restart
	held     bool // stopped by the test: restarted only when the test resumes it
}

// portFlags moves the container's listening ports: pods share the machine's network here. Keyed by containerPort.
var portFlags = map[int32]string{
	8081: "--health-probe-bind-address=127.0.0.1:%d",
	8443: "--metrics-bind-address=127.0.0.1:%d",
	9443: "--webhook-port=%d",
}

// runnableMountRoots are where the runner mounts secret volumes. Other paths would need a new folder at the
// machine's root (an empty mountpoint outside the test's namespaces), so they are reported and skipped.
var runnableMountRoots = []string{"/tmp/", "/var/run/", "/run/"}

func newRunner(t *testing.T, s *stack, namespace string) *runner {
	images := map[string]string{}
	for _, pair := range strings.Split(os.Getenv("MANAGER_IMAGES"), ",") {
		if image, binary, ok := strings.Cut(pair, "="); ok {
			images[image] = binary
		}
	}
	if len(images) == 0 {
		t.Fatal("MANAGER_IMAGES (image=binary,...) is not set; run `make test-e2e`")
	}
	r := &runner{t: t, s: s, namespace: namespace, images: images, procs: map[string]*podProcess{}, skipped: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	t.Cleanup(r.close)
	return r
}

func (r *runner) loop() {
	defer close(r.done)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
			r.sync()
		}
	}
}

// sync starts a process for each Running pod without one, restarts exited ones and stops those whose pod is gone.
func (r *runner) sync() {
	pods := &corev1.PodList{}
	if err := r.s.k8s.List(context.Background(), pods, client.InNamespace(r.namespace)); err != nil {
		return
	}
	live := map[string]*corev1.Pod{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning {
			live[pod.Name] = pod
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, p := range r.procs {
		if pod, ok := live[name]; !ok || string(pod.UID) != p.uid {
			p.gone = true
			go terminate(p, 10*time.Second)
			delete(r.procs, name)
		}
	}
	for name, pod := range live {
		p, ok := r.procs[name]
		switch {
		case !ok:
			r.procs[name] = r.start(pod, nil)
		case p.hasExited() && !p.gone && !p.held:
			p.restarts++
			restarted := r.start(pod, p.ports)
			restarted.restarts = p.restarts
			r.procs[name] = restarted
		}
	}
}

// start runs the container of pod; ports keeps a restarted process on the ports its pod had.
func (r *runner) start(pod *corev1.Pod, ports map[int32]int) *podProcess {
	container := pod.Spec.Containers[0]
	p := &podProcess{pod: pod.Name, uid: string(pod.UID), exited: make(chan struct{}), ports: ports}
	binary, ok := r.images[container.Image]
	if !ok {
		r.t.Errorf("pod %s: no binary for image %s", pod.Name, container.Image)
		close(p.exited)
		return p
	}
	root, err := r.stage(pod)
	if apierrors.IsNotFound(err) {
		// The pod went before it could start (a rollout replaced it at once): a kubelet would not run it either.
		r.t.Logf("pod %s: deleted before it started (%v)", pod.Name, err)
		close(p.exited)
		return p
	}
	if err != nil {
		r.t.Errorf("pod %s: %v", pod.Name, err)
		close(p.exited)
		return p
	}
	args := append([]string{}, container.Args...)
	if p.ports == nil {
		p.ports = map[int32]int{}
		for _, port := range listeningPorts(container) {
			if _, ok := portFlags[port]; ok {
				p.ports[port] = 20000 + 100*r.next + len(p.ports)
			}
		}
		r.next++
	}
	for containerPort, local := range p.ports {
		args = append(args, fmt.Sprintf(portFlags[containerPort], local))
	}

	// The script runs in the pod's new mount and UTS namespaces: hostname, a private /run, the mounts, then exec.
	script := `set -e; hostname "$POD_HOSTNAME"; mount -t tmpfs tmpfs /run; ` +
		`while [ $# -gt 0 ] && [ "$1" != -- ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done; shift; exec "$@"`
	cmdArgs := slices.Concat([]string{"-m", "-u", "--propagation", "private", "sh", "-c", script, "pod"},
		r.mounts(root, container), []string{"--", binary}, args)
	cmd := exec.Command("unshare", cmdArgs...)
	cmd.Env = r.env(pod, container)
	log, err := os.OpenFile(filepath.Join(r.s.logs, pod.Name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		r.t.Errorf("pod %s: %v", pod.Name, err)
		close(p.exited)
		return p
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		r.t.Errorf("pod %s: %v", pod.Name, err)
		close(p.exited)
		return p
	}
	p.cmd = cmd
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(p.exited)
	}()
	return p
}

// listeningPorts returns the ports the container listens on: those it declares and those its probes call.
func listeningPorts(container corev1.Container) []int32 {
	seen := map[int32]bool{}
	var ports []int32
	add := func(port int32) {
		if port != 0 && !seen[port] {
			seen[port] = true
			ports = append(ports, port)
		}
	}
	for _, port := range container.Ports {
		add(port.ContainerPort)
	}
	for _, probe := range []*corev1.Probe{container.ReadinessProbe, container.LivenessProbe} {
		if probe != nil && probe.HTTPGet != nil {
			add(probe.HTTPGet.Port.IntVal)
		}
	}
	return ports
}

// stage writes what the kubelet would mount into a folder per pod: the ServiceAccount files and secret volumes.
func (r *runner) stage(pod *corev1.Pod) (string, error) {
	ctx := context.Background()
	root := filepath.Join(r.s.logs, "pods", pod.Name)
	sa := filepath.Join(root, "serviceaccount")
	if err := os.MkdirAll(sa, 0o700); err != nil {
		return "", err
	}
	// A token bound to the pod, like the kubelet's projected token: deleting the pod invalidates it.
	request := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To[int64](3600),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	account := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Spec.ServiceAccountName}}
	if err := r.s.k8s.SubResource("token").Create(ctx, account, request); err != nil {
		return "", fmt.Errorf("requesting a token of ServiceAccount %s: %w", pod.Spec.ServiceAccountName, err)
	}
	files := map[string][]byte{"token": []byte(request.Status.Token), "ca.crt": r.s.env.Config.CAData,
		"namespace": []byte(pod.Namespace)}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(sa, name), content, 0o600); err != nil {
			return "", err
		}
	}
	for _, volume := range pod.Spec.Volumes {
		if volume.Secret == nil {
			continue
		}
		secret := &corev1.Secret{}
		if err := r.s.k8s.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: volume.Secret.SecretName}, secret); err != nil {
			return "", fmt.Errorf("secret volume %s: %w", volume.Name, err)
		}
		dir := filepath.Join(root, "volumes", volume.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", err
		}
		items := volume.Secret.Items
		if len(items) == 0 {
			for key := range secret.Data {
				items = append(items, corev1.KeyToPath{Key: key, Path: key})
			}
		}
		for _, item := range items {
			if err := os.WriteFile(filepath.Join(dir, item.Path), secret.Data[item.Key], 0o600); err != nil {
				return "", err
			}
		}
	}
	return root, nil
}

// mounts returns source/target pairs for the pod script: the ServiceAccount folder and every secret volume.
func (r *runner) mounts(root string, container corev1.Container) []string {
	pairs := []string{filepath.Join(root, "serviceaccount"), "/var/run/secrets/kubernetes.io/serviceaccount"}
	for _, mount := range container.VolumeMounts {
		source := filepath.Join(root, "volumes", mount.Name)
		if _, err := os.Stat(source); err != nil {
			continue // Not a secret volume.
		}
		if !underAny(mount.MountPath+"/", runnableMountRoots) {
			if r.skipped[mount.MountPath] {
				continue
			}
			r.skipped[mount.MountPath] = true
			r.t.Logf("runner: volume %s not mounted at %s (outside %v); the operator reads its certificates from "+
				"the other mount of the same Secret", mount.Name, mount.MountPath, runnableMountRoots)
			continue
		}
		pairs = append(pairs, source, mount.MountPath)
	}
	return pairs
}

// env is the container's env with fieldRefs resolved, and the variables the kubelet adds.
func (r *runner) env(pod *corev1.Pod, container corev1.Container) []string {
	apiserver := r.s.env.Config.Host // https://127.0.0.1:PORT
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(apiserver, "https://"))
	env := make([]string, 0, 4+len(container.Env))
	env = append(env, "PATH="+os.Getenv("PATH"), "POD_HOSTNAME="+pod.Name,
		"KUBERNETES_SERVICE_HOST="+host, "KUBERNETES_SERVICE_PORT="+port)
	for _, v := range container.Env {
		value := v.Value
		if v.ValueFrom != nil && v.ValueFrom.FieldRef != nil {
			switch v.ValueFrom.FieldRef.FieldPath {
			case "metadata.namespace":
				value = pod.Namespace
			case "metadata.name":
				value = pod.Name
			default:
				r.t.Errorf("pod %s: env %s: fieldRef %s not supported by the runner", pod.Name, v.Name,
					v.ValueFrom.FieldRef.FieldPath)
			}
		}
		env = append(env, v.Name+"="+value)
	}
	return env
}

// signal sends sig to the process of pod and returns when it has exited. The process stays down until resume: a
// kubelet would restart it after a back-off, the test restarts it once it has measured what it wants.
func (r *runner) signal(t *testing.T, pod string, sig syscall.Signal) {
	t.Helper()
	r.mu.Lock()
	p, ok := r.procs[pod]
	if ok {
		p.held = true
	}
	r.mu.Unlock()
	if !ok || p.cmd == nil {
		t.Fatalf("no process for pod %s", pod)
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("pod %s did not exit on %v", pod, sig)
	}
}

// resume lets the runner restart the process of pod, as the kubelet does after a container exits.
func (r *runner) resume(pod string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.procs[pod]; ok {
		p.held = false
	}
}

// process returns the current process of pod.
func (r *runner) process(pod string) (*podProcess, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.procs[pod]
	return p, ok
}

// running returns the names of the pods whose process is up.
func (r *runner) running() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var names []string
	for name, p := range r.procs {
		if !p.hasExited() {
			names = append(names, name)
		}
	}
	return names
}

// backends returns the local ports of containerPort of every running pod, for the Service forwarder.
func (r *runner) backends(containerPort int32) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var addrs []string
	for _, p := range r.procs {
		if local, ok := p.ports[containerPort]; ok && !p.hasExited() {
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", local))
		}
	}
	return addrs
}

func (p *podProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// terminate stops a process like the kubelet: SIGTERM, then SIGKILL after the grace period.
func terminate(p *podProcess, grace time.Duration) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (r *runner) close() {
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.procs {
		p.gone = true
		terminate(p, 5*time.Second)
	}
}

func underAny(path string, roots []string) bool {
	for _, root := range roots {
		if strings.HasPrefix(path, root) {
			return true
		}
	}
	return false
}
