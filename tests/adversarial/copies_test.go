package adversarial

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// Another tool's marks on a copy: a backup tool's label, a GitOps tool's annotation, a finalizer of its own.
const (
	otherLabel      = "backup.example.com/include"
	otherAnnotation = "argocd.argoproj.io/tracking-id"
	otherFinalizer  = "example.com/protect"
)

// TestATenantsFinalizerAndImmutabilityOnACopyAreReportedNeverLoseIt: alice makes the copy in a-2 immutable and puts
// a finalizer on it; the source changes. The copy in a-1 gets the new content; the one in a-2 cannot, and the
// ConfigMapSync says so (not Ready, a-2 not Synced) instead of Ready. The operator never gives up the a-2 copy:
// it is never marked for deletion, which would lose it the moment the finalizer goes.
func TestATenantsFinalizerAndImmutabilityOnACopyAreReportedNeverLoseIt(t *testing.T) {
	t.Parallel()
	a1, a2 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "a2")
	alice := newTenant(t, "alice", a1, a2)
	src := harness.ConfigMap(a1, "src", map[string]string{"k": "v1"})
	harness.Create(t, alice, src)
	cms := newSync(a1, "settings", "src", "settings", a1, a2)
	harness.Create(t, alice, cms)
	harness.Ready(t, admin, cms)

	blocked := harness.ConfigMap(a2, "settings", nil)
	update(t, alice, blocked, func() {
		blocked.Finalizers = append(blocked.Finalizers, otherFinalizer)
		blocked.Immutable = ptr.To(true)
	})
	t.Cleanup(func() { dropFinalizer(t, alice, blocked) })
	uid := blocked.UID

	update(t, alice, src, func() { src.Data = map[string]string{"k": "v2"} })
	harness.Eventually(t, admin, harness.ConfigMap(a1, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "v2", cp.Data["k"])
	})
	harness.Eventually(t, admin, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.NotEqual(c, metav1.ConditionTrue, readyStatus(cms), "Ready while a-2 holds the old content")
		assert.Equal(c, metav1.ConditionFalse, readyStatus(cms))
		state, _ := destinationState(cms, a2)
		assert.Equal(c, syncv1.DestinationFailed, state, "the destination whose copy cannot be replaced")
	})
	neverLost(t, blocked, uid)
}

// neverLost watches the copy for settle and fails if it is gone, replaced, or marked for deletion.
func neverLost(t *testing.T, cp *corev1.ConfigMap, uid any) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		got := copyOf(t, cp.Namespace, cp.Name)
		require.Equal(t, uid, got.UID, "the copy in %s was replaced", cp.Namespace)
		require.Nil(t, got.DeletionTimestamp, "the operator deleted the copy in %s: it is lost as soon as %s is removed",
			cp.Namespace, otherFinalizer)
		time.Sleep(tick)
	}
}

// dropFinalizer removes otherFinalizer from cp, as the other tool would when done.
func dropFinalizer(t *testing.T, c client.Client, cp *corev1.ConfigMap) {
	t.Helper()
	got := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(cp), got); err != nil {
		return
	}
	update(t, c, got, func() {
		got.Finalizers = slices.DeleteFunc(got.Finalizers, func(f string) bool { return f == otherFinalizer })
	})
}

// TestAQuotaRefusingACopyIsReportedAndOtherDestinationsSync: a ResourceQuota in a-2 allows no ConfigMap. The copy
// there is refused; the ConfigMapSync reports that destination Failed with the API server's reason, is not Ready,
// and keeps a-1's copy in line with the source.
func TestAQuotaRefusingACopyIsReportedAndOtherDestinationsSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a1, a2 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "a2")
	alice := newTenant(t, "alice", a1, a2)
	quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: a2, Name: "no-configmaps"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceConfigMaps: resource.MustParse("0")}}}
	harness.Create(t, admin, quota)
	// No quota controller runs here: the admin records the usage it would, or the quota refuses everything as
	// "status unknown".
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceConfigMaps: resource.MustParse("0")}}
	require.NoError(t, admin.Status().Update(ctx, quota))

	src := harness.ConfigMap(a1, "src", map[string]string{"k": "v1"})
	harness.Create(t, alice, src)
	cms := newSync(a1, "settings", "src", "settings", a1, a2)
	harness.Create(t, alice, cms)
	reported := func(want string) {
		harness.Eventually(t, admin, harness.ConfigMap(a1, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, want, cp.Data["k"])
		})
		harness.Eventually(t, admin, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
			assert.Equal(c, metav1.ConditionFalse, readyStatus(cms))
			state, message := destinationState(cms, a2)
			assert.Equal(c, syncv1.DestinationFailed, state)
			assert.Contains(c, message, "quota")
			assert.Equal(c, int32(1), cms.Status.SyncedDestinations)
		})
		assert.True(t, harness.Absent(t, admin, harness.ConfigMap(a2, "settings", nil)))
	}
	reported("v1")
	update(t, alice, src, func() { src.Data = map[string]string{"k": "v2"} })
	reported("v2")
}

// TestOtherToolsMetadataOnACopySurvivesSyncs: alice's tools mark a copy with a label, an annotation, a finalizer
// and an ownerReference (to a ConfigMap of hers in the same namespace). The operator's writes keep them:
//   - a content change of a mutable source updates the copy and keeps all four;
//   - a metadata-only change of an immutable source updates the immutable copy in place (same object) and keeps
//     all four;
//   - a content change of an immutable source (deleted and created again with new data, the only way) needs a new
//     copy: the finalizer is left out there, since a copy with another tool's finalizer cannot be replaced at all
//     (TestATenantsFinalizerAndImmutabilityOnACopyAreReportedNeverLoseIt); the new copy keeps the label, the
//     annotation and the ownerReference.
func TestOtherToolsMetadataOnACopySurvivesSyncs(t *testing.T) {
	t.Parallel()
	a1, a2 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "a2")
	alice := newTenant(t, "alice", a1, a2)
	owner := harness.ConfigMap(a2, "owner-of-copies", map[string]string{"role": "owner"})
	harness.Create(t, alice, owner)

	// mark adds the other tools' metadata to the copy (the finalizer when withFinalizer).
	mark := func(t *testing.T, cp *corev1.ConfigMap, withFinalizer bool) {
		update(t, alice, cp, func() {
			if cp.Labels == nil {
				cp.Labels = map[string]string{}
			}
			cp.Labels[otherLabel] = "true"
			cp.Annotations[otherAnnotation] = "alice-app:/ConfigMap:" + a2 + "/" + cp.Name
			if withFinalizer {
				cp.Finalizers = append(cp.Finalizers, otherFinalizer)
			}
			cp.OwnerReferences = append(cp.OwnerReferences, metav1.OwnerReference{
				APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID})
		})
		if withFinalizer {
			t.Cleanup(func() { dropFinalizer(t, alice, cp) })
		}
	}
	kept := func(c *assert.CollectT, cp *corev1.ConfigMap, withFinalizer bool) {
		assert.Equal(c, "true", cp.Labels[otherLabel], "another tool's label")
		assert.Contains(c, cp.Annotations, otherAnnotation, "another tool's annotation")
		if withFinalizer {
			assert.Contains(c, cp.Finalizers, otherFinalizer, "another tool's finalizer")
		}
		assert.True(c, slices.ContainsFunc(cp.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == owner.UID }),
			"another owner's reference")
	}
	newCopy := func(t *testing.T, name string, immutable bool) (*corev1.ConfigMap, *corev1.ConfigMap) {
		src := harness.ConfigMap(a1, name, map[string]string{"k": "v1"})
		src.Immutable = ptr.To(immutable)
		harness.Create(t, alice, src)
		cms := newSync(a1, name, name, name, a2)
		harness.Create(t, alice, cms)
		harness.Ready(t, admin, cms)
		return src, copyOf(t, a2, name)
	}

	t.Run("content change", func(t *testing.T) {
		t.Parallel()
		src, cp := newCopy(t, "mutable", false)
		mark(t, cp, true)
		update(t, alice, src, func() { src.Data = map[string]string{"k": "v2"} })
		harness.Eventually(t, admin, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, "v2", cp.Data["k"])
			kept(c, cp, true)
		})
	})
	t.Run("metadata change of an immutable source", func(t *testing.T) {
		t.Parallel()
		src, cp := newCopy(t, "immutable-metadata", true)
		mark(t, cp, true)
		uid := cp.UID
		update(t, alice, src, func() { src.Labels = map[string]string{"tier": "gold"} })
		harness.Eventually(t, admin, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, "gold", cp.Labels["tier"], "the source's new label")
			assert.Equal(c, uid, cp.UID, "updated in place, not replaced")
			assert.Nil(c, cp.DeletionTimestamp, "not being deleted")
			kept(c, cp, true)
		})
	})
	t.Run("content change of an immutable source", func(t *testing.T) {
		t.Parallel()
		src, cp := newCopy(t, "immutable-content", true)
		mark(t, cp, false)
		uid := cp.UID
		require.NoError(t, alice.Delete(context.Background(), src))
		replaced := harness.ConfigMap(a1, src.Name, map[string]string{"k": "v2"})
		replaced.Immutable = ptr.To(true)
		require.EventuallyWithT(t, func(c *assert.CollectT) { assert.NoError(c, alice.Create(context.Background(), replaced)) }, waitFor, tick)
		harness.Eventually(t, admin, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, "v2", cp.Data["k"])
			assert.NotEqual(c, uid, cp.UID, "an immutable copy gets new content only as a new object")
			kept(c, cp, false)
		})
	})
}

// TestAnEmptiedCopyIsRepairedWhateverItsAnnotationsSay: alice empties a copy, in one case also setting the
// annotation release 0.3.0's cache trusted for the hash of a copy's data to the expected hash, leaving
// content-hash alone. The operator judges the copy by its data: it restores it, and then reports Ready with
// every destination synced.
func TestAnEmptiedCopyIsRepairedWhateverItsAnnotationsSay(t *testing.T) {
	t.Parallel()
	a1, a2 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "a2")
	alice := newTenant(t, "alice", a1, a2)
	data := map[string]string{"k": "v", "other": "w"}
	harness.Create(t, alice, harness.ConfigMap(a1, "src", data))

	for i, row := range []struct {
		what string
		edit func(cp *corev1.ConfigMap)
	}{
		{"emptied, the observed-hash annotation set to the expected hash", func(cp *corev1.ConfigMap) {
			cp.Data = nil
			cp.Annotations[observedHashAnnotation] = cp.Annotations[syncv1.ContentHashAnnotation]
		}},
		{"emptied", func(cp *corev1.ConfigMap) { cp.Data = nil }},
		{"edited", func(cp *corev1.ConfigMap) { cp.Data = map[string]string{"k": "alice's"} }},
	} {
		t.Run(row.what, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("copy-%d", i)
			cms := newSync(a1, name, "src", name, a2)
			harness.Create(t, alice, cms)
			harness.Ready(t, admin, cms)
			cp := copyOf(t, a2, name)
			update(t, alice, cp, func() { row.edit(cp) })
			harness.Eventually(t, admin, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) {
				assert.Equal(c, data, cp.Data, "the copy's data, restored")
			})
			harness.Ready(t, admin, cms)
			got := &syncv1.ConfigMapSync{}
			require.NoError(t, admin.Get(context.Background(), client.ObjectKeyFromObject(cms), got))
			assert.Equal(t, got.Status.DesiredDestinations, got.Status.SyncedDestinations)
		})
	}
}
