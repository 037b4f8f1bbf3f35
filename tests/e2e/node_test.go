//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/hack/image/ociimage"
	"github.com/configmapsync/configmapsync-operator/tests/node"
)

const (
	// nodeName and nodeIP are the node's: the IP is the host address the Makefile put on the namespace's loopback.
	nodeName = "node-1"
	nodeIP   = "10.1.0.1"
	// podCIDR is the pod network of the node's bridge, inside the test's network namespace.
	podCIDR = "10.244.0.0/24"
	// sandboxImage is the pause image, served by the local registry as registry.k8s.io's.
	sandboxImage = "registry.k8s.io/pause:3.10"
	// olmImage is OLM's image, built here, and opmImage what OLM's catalog operator runs to unpack a bundle image:
	// the images OLM's release manifests name (OLM_RELEASE, rendered by hack/olm-release.sh).
	olmImage = "quay.io/operator-framework/olm:v0.33.0"
	opmImage = "quay.io/operator-framework/opm:v1.59.0"
	// corednsImage is the cluster DNS's image (testdata/coredns.yaml), built here.
	corednsImage = "registry.k8s.io/coredns/coredns:v1.15.0"
	// scorecardTestImage is what the bundle's scorecard config runs; the untar and storage images are given to
	// `operator-sdk scorecard` by flag (its defaults are upstream's digests).
	scorecardTestImage    = "quay.io/operator-framework/scorecard-test:v1.42.2"
	scorecardUntarImage   = "quay.io/operator-framework/scorecard-untar:v1.42.2"
	scorecardStorageImage = "quay.io/operator-framework/scorecard-storage:v1.42.2"
	// clusterDNS is the kube-dns Service's address (testdata/coredns.yaml).
	clusterDNS = "10.0.0.10"
)

// startNode serves the images on a registry on loopback (as quay.io's and registry.k8s.io's, through
// containerd's mirrors) and starts a real node (tests/node): containerd, runc, the CNI bridge, kubelet and
// kube-proxy. It returns when the node is Ready.
func (s *stack) startNode(t *testing.T) {
	t.Helper()
	addr := s.serveImages(t)
	dir, err := os.MkdirTemp("", "cms-node-") // Short: containerd's socket lives there.
	if err != nil {
		t.Fatal(err)
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	n, err := node.Start(node.Config{
		Dir: dir, Kubeconfig: s.kubeconfig, Name: nodeName, IP: nodeIP, PodCIDR: podCIDR,
		Kubelet: filepath.Join(assets, "kubelet"), KubeProxy: filepath.Join(assets, "kube-proxy"),
		Mirrors:      map[string]string{"quay.io": "http://" + addr, "registry.k8s.io": "http://" + addr},
		SandboxImage: sandboxImage, ClientCAFile: s.kubeletClientCA, ClusterDNS: clusterDNS,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.node = n
	s.nodeDir = dir
	waitFor(t, 2*time.Minute, "node "+nodeName+" Ready", func() (bool, string) {
		nd := &corev1.Node{}
		if err := s.k8s.Get(context.Background(), client.ObjectKey{Name: nodeName}, nd); err != nil {
			return false, err.Error()
		}
		for _, c := range nd.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, c.Reason + ": " + c.Message
			}
		}
		return false, "no Ready condition"
	})
}

// serveImages starts go-containerregistry's registry on loopback and pushes the operator image of every release
// the suite installs (MANAGER_IMAGES: image=static binary, built here) and the pause image (PAUSE: its binary).
// It returns the registry's address.
func (s *stack) serveImages(t *testing.T) string {
	t.Helper()
	// On the node's address, which pods reach too: OLM v1 pulls catalog and bundle images itself.
	addr, stop, err := ociimage.ServeRegistry(nodeIP + ":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)

	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	images := map[string]any{} // An image or an index, by reference.
	for _, pair := range strings.Split(os.Getenv("MANAGER_IMAGES"), ",") {
		image, binary, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		img, err := ociimage.Operator(amd64, binary, nil)
		if err != nil {
			t.Fatalf("operator image %s from %s: %v", image, binary, err)
		}
		images[image] = img
	}
	if len(images) == 0 {
		t.Fatal("MANAGER_IMAGES (image=static binary,...) is not set; run `make test-e2e`")
	}
	pause, err := ociimage.Image(ociimage.Spec{Platform: amd64, User: "65535:65535", Entrypoint: []string{"/pause"},
		Files: []ociimage.File{{Path: "/pause", Source: os.Getenv("PAUSE"), Mode: 0o755}}})
	if err != nil {
		t.Fatalf("pause image from PAUSE=%q: %v", os.Getenv("PAUSE"), err)
	}
	images[sandboxImage] = pause
	// OLM's image, as its Dockerfile makes it: its commands in /bin, busybox's cp (bundle unpack Jobs run
	// /bin/cp; its applet is chosen by the file name), user 1001. It is also the catalog operator's util image.
	commands := []string{"olm", "catalog", "package-server", "copy-content", "cpb"}
	olmFiles := make([]ociimage.File, 0, 1+len(commands))
	olmFiles = append(olmFiles, ociimage.File{Path: "/bin/cp", Source: os.Getenv("BUSYBOX"), Mode: 0o755})
	for _, command := range commands {
		olmFiles = append(olmFiles, ociimage.File{Path: "/bin/" + command,
			Source: filepath.Join(os.Getenv("OLM_BINARIES"), command), Mode: 0o755})
	}
	olm, err := ociimage.Image(ociimage.Spec{Platform: amd64, User: "1001", Entrypoint: []string{"/bin/olm"}, Files: olmFiles})
	if err != nil {
		t.Fatalf("OLM image from OLM_BINARIES=%q and BUSYBOX=%q: %v", os.Getenv("OLM_BINARIES"), os.Getenv("BUSYBOX"), err)
	}
	images[olmImage] = olm
	opm, err := ociimage.Opm(amd64, ociimage.OpmBase{Opm: os.Getenv("OPM_STATIC"), HealthProbe: os.Getenv("GRPC_HEALTH_PROBE")})
	if err != nil {
		t.Fatalf("opm image: %v", err)
	}
	images[opmImage] = opm
	coredns, err := ociimage.Image(ociimage.Spec{Platform: amd64, User: "65532:65532", Entrypoint: []string{"/coredns"},
		Files: []ociimage.File{{Path: "/coredns", Source: os.Getenv("COREDNS"), Mode: 0o755}}})
	if err != nil {
		t.Fatalf("CoreDNS image from COREDNS=%q: %v", os.Getenv("COREDNS"), err)
	}
	images[corednsImage] = coredns
	for ref, img := range scorecardImages(t) {
		images[ref] = img
	}
	for ref, img := range olmv1Images(t, addr) {
		images[ref] = img
	}
	// The catalog image `make catalog-image` built, as it would be published.
	catalog, err := ociimage.ReadLayout(os.Getenv("CATALOG_LAYOUT"))
	if err != nil {
		t.Fatalf("catalog image from CATALOG_LAYOUT=%q: %v", os.Getenv("CATALOG_LAYOUT"), err)
	}
	s.catalogImage = os.Getenv("CATALOG_IMG")
	images[s.catalogImage] = catalog
	// The bundle images the catalog names by digest: built from the same folders, they have those digests.
	dirs := make([]string, 0, 1+len(releasedVersions))
	dirs = append(dirs, filepath.Join(repoRoot, "bundle"))
	for _, version := range releasedVersions {
		dirs = append(dirs, filepath.Join(repoRoot, "tests", "testdata", "bundle-"+version))
	}
	for _, dir := range dirs {
		img, err := ociimage.Bundle(dir, amd64)
		if err != nil {
			t.Fatalf("bundle image of %s: %v", dir, err)
		}
		digest, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		images[bundleRepository+"@"+digest.String()] = img
	}
	s.digests = map[string]string{}
	for name, img := range images {
		// quay.io/org/name:tag (or @digest) is served as <addr>/org/name:tag, which containerd's mirror asks for.
		_, path, _ := strings.Cut(name, "/")
		digest, err := ociimage.Push(addr+"/"+path, img)
		if err != nil {
			t.Fatalf("pushing %s: %v", name, err)
		}
		s.digests[name] = digest.String()
	}
	return addr
}

// pods sees the operator's pods on the node, as a user would through the API, and kills their containers the way
// a crashing process or the node's OOM killer would.
type pods struct {
	s         *stack
	namespace string
}

func newPods(s *stack, namespace string) *pods { return &pods{s: s, namespace: namespace} }

// running returns the names of the operator's pods that are Running and not being deleted.
func (p *pods) running() []string {
	list := &corev1.PodList{}
	if err := p.s.k8s.List(context.Background(), list, client.InNamespace(p.namespace)); err != nil {
		return nil
	}
	var names []string
	for _, pod := range list.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
			names = append(names, pod.Name)
		}
	}
	return names
}

// ready reports whether the kubelet's readiness probe passes for pod.
func (p *pods) ready(name string) bool {
	pod := &corev1.Pod{}
	if err := p.s.k8s.Get(context.Background(), client.ObjectKey{Namespace: p.namespace, Name: name}, pod); err != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// signal sends sig to the manager process of pod's container, found on the node through the pod's cgroup.
func (p *pods) signal(t *testing.T, name string, sig syscall.Signal) {
	t.Helper()
	pod := &corev1.Pod{}
	if err := p.s.k8s.Get(context.Background(), client.ObjectKey{Namespace: p.namespace, Name: name}, pod); err != nil {
		t.Fatal(err)
	}
	pids := managerProcesses("pod" + string(pod.UID))
	if len(pids) == 0 {
		t.Fatalf("no manager process of pod %s on the node", name)
	}
	if err := syscall.Kill(pids[0], sig); err != nil {
		t.Fatalf("signalling %s (pid %d): %v", name, pids[0], err)
	}
}

// log returns the log of pod's manager container since its last start, as `kubectl logs` reads it: through the
// API server, which asks the kubelet.
func (p *pods) log(name string) string {
	raw, err := p.s.clientset.CoreV1().Pods(p.namespace).GetLogs(name, &corev1.PodLogOptions{Container: "manager"}).
		DoRaw(context.Background())
	if err != nil {
		return "reading the log: " + err.Error()
	}
	return string(raw)
}

// restarts returns the restart count of each operator pod's containers.
func (p *pods) restarts() map[string]int32 {
	list := &corev1.PodList{}
	out := map[string]int32{}
	if err := p.s.k8s.List(context.Background(), list, client.InNamespace(p.namespace)); err != nil {
		return out
	}
	for _, pod := range list.Items {
		for _, c := range pod.Status.ContainerStatuses {
			out[pod.Name+"/"+c.Name] = c.RestartCount
		}
	}
	return out
}

// waitRestarted waits until the kubelet has restarted pod's manager container (its restart count is above
// before) and the restarted container is ready.
func (p *pods) waitRestarted(t *testing.T, pod string, before int32) {
	t.Helper()
	waitFor(t, 2*time.Minute, pod+" restarted and ready", func() (bool, string) {
		return p.restarts()[pod+"/manager"] > before && p.ready(pod), fmt.Sprint(p.restarts())
	})
}

// oomKills returns the operator containers whose last termination was an OOM kill.
func (p *pods) oomKills() []string {
	list := &corev1.PodList{}
	if err := p.s.k8s.List(context.Background(), list, client.InNamespace(p.namespace)); err != nil {
		return []string{err.Error()}
	}
	var killed []string
	for _, pod := range list.Items {
		for _, c := range pod.Status.ContainerStatuses {
			if last := c.LastTerminationState.Terminated; last != nil && last.Reason == "OOMKilled" {
				killed = append(killed, pod.Name+"/"+c.Name)
			}
		}
	}
	return killed
}

// managerProcesses returns the pids of the processes running /manager whose cgroup path contains marker:
// "pod<uid>" for one pod's, "kubepods" for any pod's on the node.
func managerProcesses(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cgroup, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err != nil || !strings.Contains(string(cgroup), marker) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if strings.HasPrefix(string(cmdline), "/manager\x00") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// scorecardImages returns operator-sdk scorecard's three images as its Dockerfiles (images/scorecard-*) make them,
// with busybox from Debian where they take a shell and tar from a base image: scorecard-test (SCORECARD_TEST, built
// here), and the untar and storage images (tar and sh), each with its non-root user 1001 in /etc/passwd.
func scorecardImages(t *testing.T) map[string]any {
	t.Helper()
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	busybox := os.Getenv("BUSYBOX")
	image := func(user string, files ...ociimage.File) v1.Image {
		home := "/opt/" + user
		files = append(files,
			ociimage.File{Path: "/etc/passwd", Mode: 0o644,
				Data: []byte("root:x:0:0:root:/root:/bin/sh\n" + user + ":x:1001:0:" + user + " user:" + home + ":/sbin/nologin\n")},
			ociimage.File{Path: home, Dir: true, Mode: 0o755, UID: 1001},
			ociimage.File{Path: "/tmp", Dir: true, Mode: 0o1777})
		img, err := ociimage.Image(ociimage.Spec{Platform: amd64, User: "1001", WorkingDir: home, Files: files,
			Env: []string{"PATH=/usr/local/bin:/bin", "HOME=" + home, "USER_NAME=" + user, "USER_UID=1001"}})
		if err != nil {
			t.Fatalf("scorecard image for %s (SCORECARD_TEST=%q, BUSYBOX=%q): %v", user, os.Getenv("SCORECARD_TEST"), busybox, err)
		}
		return img
	}
	shellAndTar := []ociimage.File{{Path: "/bin/sh", Source: busybox, Mode: 0o755}, {Path: "/bin/tar", Source: busybox, Mode: 0o755}}
	return map[string]any{
		scorecardTestImage: image("scorecard-test",
			ociimage.File{Path: "/usr/local/bin/scorecard-test", Source: os.Getenv("SCORECARD_TEST"), Mode: 0o755}),
		// Both Dockerfiles name their user scorecard-untar.
		scorecardUntarImage:   image("scorecard-untar", shellAndTar...),
		scorecardStorageImage: image("scorecard-untar", shellAndTar...),
	}
}
