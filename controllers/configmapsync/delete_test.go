package configmapsync

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- deletion -------------------------------------------------------------------------------------------------

func TestReconcile_DeleteWithCleanupFailures(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	require.Len(t, e.ownedCopies(), 3)
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	require.NotNil(t, e.cms().DeletionTimestamp, "the finalizer holds the object")

	injected := apierrors.NewServiceUnavailable("down")
	e.setFault(func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "delete" && obj.GetNamespace() == "ns-b" {
			return injected
		}
		return nil
	})

	for i := range 2 {
		_, err := e.reconcile()
		require.Error(t, err, "attempt %d", i)
		assert.ErrorIs(t, err, injected)
		cms := e.cms()
		assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer), "the finalizer stays while a copy remains")
		requireCMSCondition(t, cms, syncv1.DeletingCondition, metav1.ConditionTrue, syncv1.ReasonCleanupFailed)
		assert.Equal(t, []string{syncv1.ReasonCleanupFailed}, e.rec.warnings(), "one Warning event, not one per retry")
		assert.Nil(t, e.copyIn("ns-a"))
		assert.NotNil(t, e.copyIn("ns-b"))
		assert.Nil(t, e.copyIn("ns-c"))
	}

	e.setFault(nil)
	res := e.mustReconcile()
	assert.Equal(t, ctrl.Result{}, res)
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone once the finalizer is removed: %v", err)
	assert.Empty(t, e.ownedCopies())
	assert.NotNil(t, e.configMap(testCMSNamespace, testSourceName), "the source is never deleted")
	assert.Equal(t, []string{syncv1.ReasonCleanupFailed}, e.rec.warnings())

	// A reconcile for the deleted object is a no-op.
	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())
}

func TestReconcile_DeleteFindsCopiesTheCacheMissed(t *testing.T) {
	// A copy made by an earlier process in a namespace no longer listed is still cleaned up: the cache holds it.
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		extra := e.copyIn("ns-a").DeepCopy()
		extra.Namespace, extra.ResourceVersion, extra.UID = "old-ns", "", ""
		// Signed for where it is, as the operator signed it when it wrote it there.
		extra.Annotations[syncv1.OwnershipProofAnnotation] = testKeys.Proof(testCMSUID, syncer.KindConfigMap, "old-ns", extra.Name)
		require.NoError(t, c.Create(t.Context(), extra))
		require.NoError(t, c.Delete(t.Context(), e.cms()))
	})
	e.mustReconcile()
	assert.Empty(t, e.ownedCopies())
}

// TestReconcile_DeleteWritesOnlyWhatCleanupNeeds: a deletion deletes the copies and removes the finalizer, and
// patches no status onto an object that is gone once its finalizer is.
func TestReconcile_DeleteWritesOnlyWhatCleanupNeeds(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		require.NoError(t, c.Delete(t.Context(), e.cms()))
		// The API server moves the generation when a deletion starts; the fake client does not.
		deleting := e.cms()
		deleting.Generation++
		require.NoError(t, c.Update(t.Context(), deleting))
	})
	e.resetWrites()
	e.mustReconcile()
	var deletes, patches []string
	for _, w := range e.recordedWrites() {
		if strings.HasPrefix(w, "delete ") {
			deletes = append(deletes, w)
		} else {
			patches = append(patches, w)
		}
	}
	assert.Len(t, deletes, len(testDestinations))
	assert.Equal(t, []string{"patch *v1.ConfigMapSync " + testCMSNamespace + "/" + testCMSKey.Name}, patches,
		"the finalizer's removal, and no status patch")
}

// TestReconcile_DeleteFindsCopiesTheCacheHasNotSeen: deletion reads the copies from the cache, which may not have
// seen a copy written a moment ago. The copy in a destination the cache does not show is read live, by name, and
// deleted too; and nothing lists copies cluster-wide.
func TestReconcile_DeleteFindsCopiesTheCacheHasNotSeen(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })

	// The reconciler's cache misses the copy in ns-b; its live reader counts the lists it is asked for.
	var liveLists atomic.Int32
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = slices.DeleteFunc(cms.Items, func(cm corev1.ConfigMap) bool { return cm.Namespace == "ns-b" })
			}
			return nil
		},
	})
	e.r.APIReader = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			liveLists.Add(1)
			return c.List(ctx, list, opts...)
		},
	})

	e.mustReconcile()
	assert.Empty(t, e.ownedCopies(), "the copy the cache had not seen is deleted too")
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone: %v", err)
	assert.Zero(t, liveLists.Load(), "deletion lists nothing on the API server")
}

// TestReconcile_OrphanedCopiesAreDeleted: a copy the cache and the live reads only see after its ConfigMapSync
// was cleaned up (written while it was being deleted) is deleted when its event arrives. Objects that only carry
// the operator's labels and an owner this process never cleaned up are not: such metadata can be forged.
func TestReconcile_OrphanedCopiesAreDeleted(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	forged := e.copyIn("ns-a").DeepCopy() // the operator's labels and annotations, someone else's UID
	forged.Name, forged.ResourceVersion, forged.UID = "forged", "", ""
	forged.Labels[syncv1.OwnerUIDLabel] = "someone-elses-uid"
	e.setup(func(c client.Client) {
		require.NoError(t, c.Create(t.Context(), forged))
		require.NoError(t, c.Delete(t.Context(), e.cms()))
	})

	// Cleanup runs while neither the cache nor the API server shows the copy in ns-b yet.
	hidden := func(obj client.Object) bool { return obj.GetNamespace() == "ns-b" && obj.GetName() == testSourceName }
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = slices.DeleteFunc(cms.Items, func(cm corev1.ConfigMap) bool { return hidden(&cm) })
			}
			return nil
		},
	})
	e.r.APIReader = interceptor.NewClient(e.client, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Namespace == "ns-b" && key.Name == testSourceName {
				return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	e.r.Copies = copystore.NewDirect(e.r.Client, testKeys)
	e.mustReconcile()
	require.True(t, apierrors.IsNotFound(e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})), "cleaned up and gone")
	require.NotNil(t, e.copyIn("ns-b"), "the late copy survived the cleanup")

	// Its event arrives: the cache now shows it.
	e.r.Client, e.r.APIReader = e.client, e.client
	e.r.Copies = copystore.NewDirect(e.client, testKeys)
	e.mustReconcile()
	assert.Nil(t, e.copyIn("ns-b"), "the orphan is deleted")
	assert.NotNil(t, e.configMap("ns-a", "forged"), "an object with forged ownership is never deleted")

	// Objects naming an owner this process never cleaned up are left alone.
	fresh := newCMSEnv(t, newSourceConfigMap(), forged)
	fresh.mustReconcile() // testCMSKey does not exist there
	assert.NotNil(t, fresh.configMap("ns-a", "forged"))
}

// TestReconcile_OwnWritesTheCacheHasNotSeenAreNotRepeated: the events of a sync's own writes wake it again
// before the cache has seen them all. What this process just wrote is not written again; what changed since is.
func TestReconcile_OwnWritesTheCacheHasNotSeenAreNotRepeated(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	// The reconciler's cache lags: it shows no copy at all.
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = nil
			}
			return nil
		},
	})
	e.mustReconcile()
	require.Len(t, e.ownedCopies(), len(testDestinations))

	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites(), "copies just written are not written again")

	e.setup(func(c client.Client) {
		src := newSourceConfigMap()
		require.NoError(t, c.Get(t.Context(), client.ObjectKeyFromObject(src), src))
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], "a changed source is written, cache or not: %s", ns)
	}
}

func TestWrittenCopies(t *testing.T) {
	var w writtenCopies
	desired := func(rv, hash string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", ResourceVersion: rv,
			Annotations: map[string]string{syncv1.ContentHashAnnotation: hash}}}
	}
	nothing := func() client.Object { return nil }
	w.record(desired("20", "h1"), nothing)
	assert.True(t, w.holds(desired("", "h1"), nil), "the cache shows no copy yet")
	assert.True(t, w.holds(desired("", "h1"), desired("10", "old")), "the cache shows an older version")
	assert.False(t, w.holds(desired("", "h2"), nil), "another content is wanted now")
	assert.False(t, w.holds(desired("", "h1"), desired("30", "edited")), "the cache shows a later change (a hand edit)")
	assert.False(t, w.holds(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c",
		Annotations: map[string]string{syncv1.ContentHashAnnotation: "h1"}}}, nil), "a Secret of that name is another copy")

	w.observe(desired("10", "old"))
	assert.True(t, w.holds(desired("", "h1"), nil), "an older event keeps the write remembered")
	w.observe(desired("20", "h1"))
	assert.False(t, w.holds(desired("", "h1"), nil), "once the cache has the write, the cache decides")
	assert.Empty(t, w.m)

	w.record(desired("40", "h3"), nothing)
	w.forget(desired("", ""))
	assert.Empty(t, w.m)

	// The echo of a write can reach the cache before the write's answer: then nothing is left remembered, which
	// at 100,000 copies was 3 MiB that no event would ever clear.
	w.record(desired("50", "h4"), func() client.Object { return desired("50", "h4") })
	w.record(desired("60", "h5"), func() client.Object { return desired("70", "edited") })
	assert.Empty(t, w.m)

	// A write whose echo never comes is forgotten after writtenTTL.
	w.record(desired("80", "h6"), nothing)
	w.m[keyOf(desired("", ""))] = writtenCopy{resourceVersion: "80", hash: "h6", at: time.Now().Add(-writtenTTL - time.Second)}
	w.swept = time.Time{}
	other := desired("90", "h7")
	other.Name = "other"
	w.record(other, nothing)
	assert.Len(t, w.m, 1)
	assert.Contains(t, w.m, keyOf(other))
}

func TestReconcile_DeleteLeavesObjectsItDoesNotOwn(t *testing.T) {
	// An object that carries the owner-uid label but not the operator's managed-by label is, by syncer.IsOwnedBy,
	// not the operator's: sync treats it as a conflict and leaves it alone. Cleanup must not delete or modify it
	// either, whatever the deletion policy.
	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		t.Run(string(policy), func(t *testing.T) {
			e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = policy }), newSourceConfigMap())
			e.mustReconcile()
			adopted := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "adopted", Labels: map[string]string{
					syncv1.ManagedByLabel: "Helm",
					syncv1.OwnerUIDLabel:  string(testCMSUID),
				}},
				Data: map[string]string{"theirs": "x"},
			}
			require.False(t, syncer.IsOwnedBy(adopted, syncer.Owner{UID: testCMSUID}))
			e.setup(func(c client.Client) {
				require.NoError(t, c.Create(t.Context(), adopted))
				require.NoError(t, c.Delete(t.Context(), e.cms()))
			})

			e.mustReconcile()
			got := e.configMap("other", "adopted")
			require.NotNil(t, got, "cleanup deleted an object the operator does not own")
			assert.Equal(t, adopted.Labels, got.Labels, "cleanup modified an object the operator does not own")
			for _, w := range e.recordedWrites() {
				assert.NotContains(t, w, "other/adopted")
			}
		})
	}
}

func TestReconcile_DeletionPolicyOrphan(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan }), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })

	e.mustReconcile()
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone: %v", err)

	src := newSourceConfigMap()
	for _, ns := range testDestinations {
		cp := e.copyIn(ns)
		require.NotNil(t, cp, "the copy in %s is kept", ns)
		assert.Equal(t, src.Data, cp.Data, ns)
		assert.Equal(t, src.BinaryData, cp.BinaryData, ns)
		assert.Equal(t, map[string]string{"team": "payments"}, cp.Labels, ns)
		assert.Equal(t, map[string]string{"note": "kept"}, cp.Annotations, ns)
		_, owned := syncer.OwnerKey(cp)
		assert.False(t, owned)
	}
	assert.Empty(t, e.ownedCopies())
	for _, w := range e.recordedWrites() {
		assert.NotContains(t, w, "delete *v1.ConfigMap", "Orphan deletes no copy")
	}
}

func TestReconcile_DeletionPolicyOrphanWithFailures(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan }), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	e.setFault(func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "patch" && obj.GetNamespace() == "ns-c" {
			return apierrors.NewServiceUnavailable("down")
		}
		return nil
	})
	_, err := e.reconcile()
	require.Error(t, err)
	cms := e.cms()
	assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer))
	requireCMSCondition(t, cms, syncv1.DeletingCondition, metav1.ConditionTrue, syncv1.ReasonCleanupFailed)
	assert.Contains(t, cmsCondition(cms, syncv1.DeletingCondition).Message, "release 1 of 3")

	e.setFault(nil)
	e.mustReconcile()
	assert.Empty(t, e.ownedCopies())
	for _, ns := range testDestinations {
		assert.NotNil(t, e.copyIn(ns))
	}
}
