//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

const (
	// fanOutNamespaces and fanOutPayload are the user's large case: a CA bundle or settings file of about 1 MiB
	// (a ConfigMap holds at most 1 MiB) sent to a few hundred namespaces.
	fanOutNamespaces = 300
	fanOutPayload    = 1000 << 10
	fanOutLabel      = "e2e-fanout"
)

// largeFanOut copies a source of about 1 MiB into fanOutNamespaces namespaces (chosen by a label selector) and
// deletes them again, on the node's operator pods under the CSV's memory limit. The suite's restart check then
// requires that no container was OOM-killed or restarted by it. It reports the time to the last copy and to the
// last deletion, and each pod's peak memory (its cgroup's high-water mark, page cache included) against its limit.
func (s *stack) largeFanOut(t *testing.T, r *pods) {
	ctx := context.Background()
	for _, pod := range r.running() {
		r.resetPeakMemory(t, pod)
	}
	names := make([]string, fanOutNamespaces)
	for i := range names {
		names[i] = fmt.Sprintf("fanout-%03d", i)
		s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: names[i], Labels: map[string]string{fanOutLabel: "true"}}})
	}
	source := configMap("app", "ca-bundle", map[string]string{"ca.pem": strings.Repeat("A", fanOutPayload)})
	s.apply(t, source)
	cms := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "ca-bundle-everywhere"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: source.Name},
			Destination: syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{fanOutLabel: "true"}}}}}
	start := time.Now()
	require.NoError(t, s.k8s.Create(ctx, cms))
	waitFor(t, 10*time.Minute, fmt.Sprintf("%d copies of %d KiB", fanOutNamespaces, fanOutPayload>>10), func() (bool, string) {
		got := &syncv1.ConfigMapSync{}
		if err := s.k8s.Get(ctx, client.ObjectKeyFromObject(cms), got); err != nil {
			return false, err.Error()
		}
		st := got.Status
		return meta.IsStatusConditionTrue(st.Conditions, syncv1.ReadyCondition) && st.ObservedGeneration == got.Generation &&
			st.SyncedDestinations == fanOutNamespaces, fmt.Sprintf("%d of %d synced", st.SyncedDestinations, st.DesiredDestinations)
	})
	copied := time.Since(start)
	hashes := s.copyHashes(t, source.Name)
	require.Len(t, hashes, fanOutNamespaces)
	for ns, hash := range hashes {
		assert.Equal(t, hashes[names[0]], hash, "the copy in %s", ns)
	}
	for _, ns := range []string{names[0], names[len(names)-1]} {
		data, _, ok := s.copyOf("ConfigMap", ns, source.Name)
		assert.True(t, ok && data["ca.pem"] == source.Data["ca.pem"], "the copy in %s has the source's content", ns)
	}

	start = time.Now()
	require.NoError(t, s.k8s.Delete(ctx, cms))
	waitFor(t, 10*time.Minute, "the copies and the ConfigMapSync to go", func() (bool, string) {
		left := len(s.copyHashes(t, source.Name))
		err := s.k8s.Get(ctx, client.ObjectKeyFromObject(cms), &syncv1.ConfigMapSync{})
		return left == 0 && apierrors.IsNotFound(err), fmt.Sprintf("%d copies left", left)
	})
	deleted := time.Since(start)
	running := r.running()
	memory := make([]string, 0, len(running))
	for _, pod := range running {
		peak, limit := r.peakMemory(t, pod)
		memory = append(memory, fmt.Sprintf("%s %d MiB of %d MiB", pod, peak>>20, limit>>20))
	}
	report(t, "fan-out of %d KiB to %d namespaces on the node: all copies in %s, all deleted in %s; peak memory: %s",
		fanOutPayload>>10, fanOutNamespaces, copied.Round(time.Second), deleted.Round(time.Second), strings.Join(memory, ", "))
}

// copyHashes returns the content hash of every copy named name, by namespace, read as metadata only.
func (s *stack) copyHashes(t *testing.T, name string) map[string]string {
	t.Helper()
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
	if err := s.k8s.List(context.Background(), list, client.MatchingFields{"metadata.name": name}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, item := range list.Items {
		if hash, ok := item.Annotations[syncv1.ContentHashAnnotation]; ok {
			out[item.Namespace] = hash
		}
	}
	return out
}

// podMemoryCgroup returns the memory cgroup folder of a pod on the node (cgroup v1, cgroupfs driver).
func (p *pods) podMemoryCgroup(t *testing.T, name string) string {
	t.Helper()
	pod := &corev1.Pod{}
	if err := p.s.k8s.Get(context.Background(), client.ObjectKey{Namespace: p.namespace, Name: name}, pod); err != nil {
		t.Fatal(err)
	}
	for _, qos := range []string{"", "burstable", "besteffort"} {
		dir := filepath.Join("/sys/fs/cgroup/memory/kubepods", qos, "pod"+string(pod.UID))
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	t.Fatalf("no memory cgroup for pod %s", name)
	return ""
}

// resetPeakMemory resets the high-water mark of a pod's memory cgroup.
func (p *pods) resetPeakMemory(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(p.podMemoryCgroup(t, name), "memory.max_usage_in_bytes")
	if err := os.WriteFile(path, []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// peakMemory returns the high-water mark and the limit of a pod's memory cgroup, in bytes.
func (p *pods) peakMemory(t *testing.T, name string) (peak, limit int64) {
	t.Helper()
	dir := p.podMemoryCgroup(t, name)
	read := func(file string) int64 {
		raw, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return read("memory.max_usage_in_bytes"), read("memory.limit_in_bytes")
}
