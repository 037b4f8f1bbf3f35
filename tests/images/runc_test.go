package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
	"github.com/configmapsync/configmapsync-operator/tests/harness/localport"
)

// lookRunc returns Debian's runc, which runs the images here as a kubelet's runtime would.
func lookRunc(t *testing.T) string {
	t.Helper()
	runc, err := exec.LookPath("runc")
	require.NoError(t, err, "runc runs the images; `make test` installs Debian's runc when it is missing")
	return runc
}

// podContainer is what a kubelet knows when it starts the one container of Pod: the image's filesystem and
// config, the pod, and the namespace it runs in. ExtraArgs, ExtraEnv and Mounts (target → host folder, mounted
// read-only) are what a test adds where it cannot be a real kubelet.
type podContainer struct {
	Rootfs    string
	Image     v1.Config
	Pod       corev1.PodSpec
	Namespace string
	ExtraArgs []string
	ExtraEnv  []string
	Mounts    map[string]string
}

// containerSpec returns the OCI runtime spec a kubelet would give p's container: runc's default spec (namespaces,
// masked paths, devices) with /etc/hosts, the user (the pod's runAsUser, else the image's), the command and args (the
// container's, else the image's entrypoint and cmd), the env (the image's, then the container's with downward API
// values resolved), the security context, the memory and CPU limits as a cgroup, and the mounts. The container
// gets a network namespace of its own unless the pod uses the host's.
func containerSpec(t *testing.T, runc string, p podContainer) *specs.Spec {
	t.Helper()
	require.Len(t, p.Pod.Containers, 1)
	container := p.Pod.Containers[0]
	spec := defaultSpec(t, runc)
	uid, gid := imageUser(t, p.Image.User)
	if p.Pod.SecurityContext != nil && p.Pod.SecurityContext.RunAsUser != nil {
		uid = uint32(*p.Pod.SecurityContext.RunAsUser)
	}
	if p.Pod.SecurityContext != nil && ptr.Deref(p.Pod.SecurityContext.RunAsNonRoot, false) {
		require.NotZero(t, uid, "runAsNonRoot: the user must not be root")
	}
	command, args := container.Command, container.Args
	if len(command) == 0 {
		command = p.Image.Entrypoint
		if len(args) == 0 {
			args = p.Image.Cmd
		}
	}

	sc := ptr.Deref(container.SecurityContext, corev1.SecurityContext{})
	spec.Process.Terminal = false
	spec.Process.User = specs.User{UID: uid, GID: gid}
	spec.Process.Args = append(append(append([]string(nil), command...), args...), p.ExtraArgs...)
	spec.Process.Env = append(append(append([]string(nil), p.Image.Env...), resolvedEnv(t, container, p.Namespace)...),
		p.ExtraEnv...)
	spec.Process.Cwd = "/"
	spec.Process.NoNewPrivileges = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if sc.Capabilities != nil {
		spec.Process.Capabilities = withoutCapabilities(t, sc.Capabilities)
	}
	spec.Root = &specs.Root{Path: p.Rootfs, Readonly: ptr.Deref(sc.ReadOnlyRootFilesystem, false)}
	spec.Hostname = "configmapsync-image-test"

	if p.Pod.HostNetwork {
		var namespaces []specs.LinuxNamespace
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type != specs.NetworkNamespace {
				namespaces = append(namespaces, ns)
			}
		}
		spec.Linux.Namespaces = namespaces
	}
	spec.Linux.CgroupsPath = fmt.Sprintf("/configmapsync-image-test-%d-%d", os.Getpid(), harness.Unique())
	limits := container.Resources.Limits
	if memory := limits.Memory().Value(); memory > 0 {
		spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: ptr.To(memory)}
	}
	if cpu := limits.Cpu().MilliValue(); cpu > 0 {
		spec.Linux.Resources.CPU = &specs.LinuxCPU{Period: ptr.To[uint64](100000), Quota: ptr.To(cpu * 100)}
	}
	spec.Mounts = append(spec.Mounts, specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hostsFile(t, p.Pod),
		Options: []string{"rbind", "ro"}})
	for target, source := range p.Mounts {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: target, Type: "bind", Source: source,
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}})
	}
	return spec
}

// hostsFile returns the /etc/hosts a kubelet mounts into every container: the host's for a pod on the host's
// network, else one naming localhost (programs such as opm listen on "localhost:..." and resolve it there).
func hostsFile(t *testing.T, pod corev1.PodSpec) string {
	t.Helper()
	if pod.HostNetwork {
		return "/etc/hosts"
	}
	path := filepath.Join(t.TempDir(), "hosts")
	require.NoError(t, os.WriteFile(path, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644))
	return path
}

// defaultSpec is `runc spec`: the runtime's defaults for everything a pod spec does not say.
func defaultSpec(t *testing.T, runc string) *specs.Spec {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command(runc, "spec", "--bundle", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var spec specs.Spec
	require.NoError(t, json.Unmarshal(raw, &spec))
	return &spec
}

// imageUser parses the image's numeric "uid[:gid]" user (group 0 when not given, as container runtimes do).
func imageUser(t *testing.T, user string) (uid, gid uint32) {
	t.Helper()
	u, g, ok := strings.Cut(user, ":")
	if !ok {
		g = "0"
	}
	uid64, err := strconv.ParseUint(u, 10, 32)
	require.NoError(t, err, "a numeric user, which runAsNonRoot can check without a passwd file: %q", user)
	gid64, err := strconv.ParseUint(g, 10, 32)
	require.NoError(t, err)
	return uint32(uid64), uint32(gid64)
}

// withoutCapabilities returns the process's capabilities for c: only "drop: [ALL]" with nothing added is
// supported, which is what the CSV and OLM's restricted catalog pods say.
func withoutCapabilities(t *testing.T, c *corev1.Capabilities) *specs.LinuxCapabilities {
	t.Helper()
	require.Equal(t, []corev1.Capability{"ALL"}, c.Drop, "every capability dropped")
	require.Empty(t, c.Add)
	return &specs.LinuxCapabilities{}
}

// resolvedEnv returns the container's env as NAME=value, with the downward API values a kubelet fills in for a pod
// in namespace (its name and UID made up).
func resolvedEnv(t *testing.T, container corev1.Container, namespace string) []string {
	t.Helper()
	env := make([]string, 0, len(container.Env))
	for _, e := range container.Env {
		value := e.Value
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			value = namespace
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			value = "configmapsync-operator-runc"
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.uid":
			value = fmt.Sprintf("runc-%d", time.Now().UnixNano()) // A pod's UID is never reused.
		case e.ValueFrom.ResourceFieldRef != nil && e.ValueFrom.ResourceFieldRef.Resource == "limits.memory":
			value = strconv.FormatInt(container.Resources.Limits.Memory().Value(), 10)
		default:
			require.Failf(t, "unsupported env source", "%s: %+v", e.Name, e.ValueFrom)
		}
		env = append(env, e.Name+"="+value)
	}
	return env
}

// container is a runc container running in the foreground of a runc process.
type container struct {
	runc, root, id string
	done           chan struct{}
	mu             sync.Mutex
	log            bytes.Buffer
}

// startContainer writes an OCI bundle with spec and runs it with runc; the test's cleanup kills and
// deletes it.
func startContainer(t *testing.T, runc string, spec *specs.Spec) *container {
	t.Helper()
	bundle := t.TempDir()
	raw, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bundle, "config.json"), raw, 0o600))

	c := &container{runc: runc, root: t.TempDir(), id: fmt.Sprintf("configmapsync-image-test-%d-%d", os.Getpid(), harness.Unique()),
		done: make(chan struct{})}
	cmd := exec.Command(runc, "--root", c.root, "run", "--bundle", bundle, c.id)
	cmd.Stdout, cmd.Stderr = c, c
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = exec.Command(runc, "--root", c.root, "kill", c.id, "KILL").Run()
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = exec.Command(runc, "--root", c.root, "delete", "--force", c.id).Run()
		if t.Failed() {
			t.Logf("container output:\n%s", c.output())
		}
	})
	return c
}

// Write collects the container's output.
func (c *container) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.Write(p)
}

func (c *container) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

func (c *container) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exec runs a command in the container, as its process's user with its environment, the way a kubelet's exec
// probe does; nil when it exits 0.
func (c *container) exec(t *testing.T, args ...string) error {
	t.Helper()
	out, err := exec.Command(c.runc, append([]string{"--root", c.root, "exec", c.id}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// pid is the host pid of the container's process, from `runc state`.
func (c *container) pid(t *testing.T) int {
	t.Helper()
	out, err := exec.Command(c.runc, "--root", c.root, "state", c.id).Output()
	require.NoError(t, err)
	var state specs.State
	require.NoError(t, json.Unmarshal(out, &state))
	require.NotZero(t, state.Pid)
	return state.Pid
}

// procFile reads /proc/<pid>/name of the container's process.
func (c *container) procFile(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.pid(t)), name))
	require.NoError(t, err)
	return string(raw)
}

// memoryLimit reads the memory limit of the container's cgroup (cgroup v1 or v2).
func (c *container) memoryLimit(t *testing.T) int64 {
	t.Helper()
	for _, line := range strings.Split(c.procFile(t, "cgroup"), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var file string
		switch {
		case strings.Contains(","+parts[1]+",", ",memory,"):
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes")
		case parts[0] == "0" && parts[1] == "" && isCgroup2():
			file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.max")
		default:
			continue
		}
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		limit, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		require.NoError(t, err)
		return limit
	}
	require.Fail(t, "no memory cgroup for the container")
	return 0
}

// isCgroup2 tells whether /sys/fs/cgroup is the unified hierarchy.
func isCgroup2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// probe tells whether GET path on the loopback port answers 200, as a kubelet's httpGet probe checks.
func probe(port int, path string) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + path)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freePort returns a TCP port free on loopback.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := localport.Free()
	require.NoError(t, err)
	return port
}

// unpack writes img's filesystem into a folder, as a container runtime unpacks an image: owners, modes and all.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root := t.TempDir()
	require.NoError(t, os.Chmod(root, 0o755)) // The image's root folder, which every user may enter.
	eachEntry(t, img, func(hdr *tar.Header, contents io.Reader) {
		path := filepath.Join(root, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			require.NoError(t, os.MkdirAll(path, 0o755))
		case tar.TypeReg:
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			require.NoError(t, err)
			_, err = io.Copy(f, contents)
			require.NoError(t, errors.Join(err, f.Close()))
		default:
			require.Failf(t, "unexpected file type in the image", "%s: %c", hdr.Name, hdr.Typeflag)
		}
		// Chmod after creation: the umask must not change the image's modes (sticky /tmp included).
		require.NoError(t, os.Chmod(path, hdr.FileInfo().Mode()))
		require.NoError(t, os.Lchown(path, hdr.Uid, hdr.Gid))
	})
	return root
}
