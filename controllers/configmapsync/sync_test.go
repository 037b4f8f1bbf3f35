package configmapsync

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- reconcile: the happy path --------------------------------------------------------------------------------

func TestReconcile_FirstSyncAddsFinalizerAndCreatesCopies(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())

	res := e.mustReconcile()
	assert.Equal(t, 5*time.Minute, res.RequeueAfter)

	cms := e.cms()
	assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer))
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
	assert.EqualValues(t, 1, cms.Status.ObservedGeneration)
	assert.EqualValues(t, 3, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 3, cms.Status.SyncedDestinations)
	assert.EqualValues(t, 0, cms.Status.FailedDestinations)
	assert.Equal(t, syncv1.SyncStatusSynced, cms.Status.SyncStatus)
	assert.NotNil(t, cms.Status.LastSyncTime)
	assert.Equal(t, []syncv1.DestinationStatus{
		{Namespace: "ns-a", State: syncv1.DestinationSynced},
		{Namespace: "ns-b", State: syncv1.DestinationSynced},
		{Namespace: "ns-c", State: syncv1.DestinationSynced},
	}, cms.Status.Destinations)

	src := newSourceConfigMap()
	content, err := syncer.ContentOf(src)
	require.NoError(t, err)
	owner := syncer.OwnerOf(cms)
	for _, ns := range testDestinations {
		cp := e.copyIn(ns)
		require.NotNil(t, cp, "copy in %s", ns)
		assert.Equal(t, src.Data, cp.Data, ns)
		assert.Equal(t, src.BinaryData, cp.BinaryData, ns)
		assert.True(t, syncer.IsOwnedBy(e.r.Copies.View(cp), owner), ns)
		assert.Equal(t, "payments", cp.Labels["team"], ns)
		assert.Equal(t, "kept", cp.Annotations["note"], ns)
		assert.Equal(t, testCMSNamespace+"/"+testCMSName, cp.Annotations[syncv1.OwnerAnnotation], ns)
		assert.Equal(t, content.Hash(), cp.Annotations[syncv1.ContentHashAnnotation], ns)
	}
	assert.Nil(t, e.copyIn("kube-system"))
	assert.Empty(t, e.rec.warnings())

	// The source itself is untouched.
	got := e.configMap(testCMSNamespace, testSourceName)
	assert.Equal(t, newSourceConfigMap().Labels, got.Labels)
	assert.Equal(t, newSourceConfigMap().Annotations, got.Annotations)
}

func TestReconcile_NotFoundIsIgnored(t *testing.T) {
	e := newCMSEnv(t)
	res, err := e.reconcile()
	assert.NoError(t, err)
	assert.Equal(t, ctrl.Result{}, res)
	assert.Empty(t, e.recordedWrites())
}

func TestReconcile_NothingChangedMakesNoWrites(t *testing.T) {
	tests := map[string]struct {
		cms    *syncv1.ConfigMapSync
		source client.Object
	}{
		"configmap": {newTestCMS(), newSourceConfigMap()},
		"secret": {
			newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }),
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName, Labels: map[string]string{"team": "payments"}},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")},
			},
		},
		"secret without type": {
			newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }),
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName},
				Data:       map[string][]byte{"a": []byte("1")},
			},
		},
		"configmap into secrets": {
			newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Kind = syncv1.SourceKindSecret }),
			newSourceConfigMap(),
		},
		"selector": {
			newTestCMS(func(c *syncv1.ConfigMapSync) {
				c.Spec.Destination.Namespaces = []string{"ns-a"}
				c.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
			}),
			newSourceConfigMap(),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := newCMSEnv(t, tt.cms, tt.source)
			e.ns.AddNamespace("prod-1", map[string]string{"env": "prod"}, false)
			e.mustReconcile()
			first := e.recordedWrites()
			require.NotEmpty(t, first, "the first reconcile writes")
			requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)

			for range 3 {
				e.resetWrites()
				res := e.mustReconcile()
				assert.Empty(t, e.recordedWrites(), "an unchanged resync must not write")
				assert.Equal(t, 5*time.Minute, res.RequeueAfter)
			}
			assert.Empty(t, e.rec.warnings())
		})
	}
}

func TestReconcile_SecretSourceKeepsType(t *testing.T) {
	src := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")},
	}
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }), src)
	e.mustReconcile()
	for _, ns := range testDestinations {
		s := &corev1.Secret{}
		require.NoError(t, e.client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: testSourceName}, s))
		assert.Equal(t, corev1.SecretTypeTLS, s.Type)
		assert.Equal(t, src.Data, s.Data)
	}
	assert.Nil(t, e.copyIn("ns-a"), "no ConfigMap is written for a Secret source")
}

func TestReconcile_AConfigMapCopiedIntoSecrets(t *testing.T) {
	src := newSourceConfigMap()
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Destination.Kind = syncv1.SourceKindSecret }), src)
	e.mustReconcile()
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	want := map[string][]byte{}
	for k, v := range src.Data {
		want[k] = []byte(v)
	}
	for k, v := range src.BinaryData {
		want[k] = v
	}
	for _, ns := range testDestinations {
		s := &corev1.Secret{}
		require.NoError(t, e.client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: testSourceName}, s))
		assert.Equal(t, corev1.SecretTypeOpaque, s.Type)
		assert.Equal(t, want, s.Data, ns)
		assert.True(t, syncer.IsOwnedBy(e.r.Copies.View(s), syncer.OwnerOf(e.cms())), ns)
	}
	assert.Nil(t, e.copyIn("ns-a"), "no ConfigMap is written")

	// A change of the source reaches the Secrets.
	e.setup(func(c client.Client) {
		live := e.configMap(testCMSNamespace, testSourceName)
		live.Data["key"] = "changed"
		require.NoError(t, c.Update(t.Context(), live))
	})
	e.mustReconcile()
	s := &corev1.Secret{}
	require.NoError(t, e.client.Get(t.Context(), types.NamespacedName{Namespace: "ns-b", Name: testSourceName}, s))
	assert.Equal(t, []byte("changed"), s.Data["key"])

	// Deleted with the ConfigMapSync, under the default Delete policy.
	require.NoError(t, e.client.Delete(t.Context(), e.cms()))
	e.mustReconcile()
	for _, ns := range testDestinations {
		err := e.client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: testSourceName}, &corev1.Secret{})
		assert.True(t, apierrors.IsNotFound(err), "%s: %v", ns, err)
	}
}

func TestReconcile_ASecretIntoConfigMapsStallsWithoutWriting(t *testing.T) {
	src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName},
		Data: map[string][]byte{"password": []byte("hunter2")}}
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Source.Kind, c.Spec.Destination.Kind = syncv1.SourceKindSecret, syncv1.SourceKindConfigMap
	}), src)
	_, _ = e.reconcile()
	requireCMSCondition(t, e.cms(), syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonInvalidSpec)
	assert.Nil(t, e.copyIn("ns-a"))
	assert.Empty(t, e.ownedCopies())
}

func TestReconcile_RestoresHandEditedCopy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-b")
		cp.Data["key"] = "hacked" // the hash annotation still claims the old content
		require.NoError(t, c.Update(t.Context(), cp))
	})
	e.mustReconcile()
	assert.Equal(t, "value", e.copyIn("ns-b").Data["key"])
	writes := e.recordedWrites()
	assert.Contains(t, writes, "patch *v1.ConfigMap ns-b/"+testSourceName)
	for _, w := range writes {
		assert.NotContains(t, w, "ns-a/")
		assert.NotContains(t, w, "ns-c/")
	}
}

func TestReconcile_SourceChangePropagates(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	before := e.cms().Status.LastSyncTime
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], ns)
	}
	require.NotNil(t, before)
	assert.NotNil(t, e.cms().Status.LastSyncTime)
}

func TestReconcile_ReplacesImmutableCopy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-a")
		cp.Immutable = cmsPtr(true)
		require.NoError(t, c.Update(t.Context(), cp))
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	writes := e.recordedWrites()
	assert.Contains(t, writes, "delete *v1.ConfigMap ns-a/"+testSourceName)
	assert.Contains(t, writes, "create *v1.ConfigMap ns-a/"+testSourceName)
	assert.Contains(t, writes, "patch *v1.ConfigMap ns-b/"+testSourceName, "mutable copies are patched in place")
	assert.NotContains(t, writes, "delete *v1.ConfigMap ns-b/"+testSourceName)
	cp := e.copyIn("ns-a")
	assert.Equal(t, "new", cp.Data["key"])
	assert.Nil(t, cp.Immutable)
}

func cmsPtr[T any](v T) *T { return &v }

func TestReconcile_PrunesUnlistedNamespace(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	require.NotNil(t, e.copyIn("ns-c"))
	e.setup(func(c client.Client) {
		cms := e.cms()
		cms.Spec.Destination.Namespaces = []string{"ns-a", "ns-b"}
		cms.Generation = 2
		require.NoError(t, c.Update(t.Context(), cms))
	})
	e.mustReconcile()
	assert.Nil(t, e.copyIn("ns-c"))
	assert.NotNil(t, e.copyIn("ns-a"))
	assert.NotNil(t, e.copyIn("ns-b"))
	assert.NotNil(t, e.configMap(testCMSNamespace, testSourceName), "the source is never pruned")
	cms := e.cms()
	assert.EqualValues(t, 2, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 2, cms.Status.ObservedGeneration)
}

func TestReconcile_ConflictLeavesForeignObjectAlone(t *testing.T) {
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns-b", Name: testSourceName, Labels: map[string]string{"owner": "someone"}},
		Data:       map[string]string{"theirs": "x"},
	}
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap(), foreign)

	res, err := e.reconcile()
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, res.RequeueAfter)

	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonConflict)
	assert.Equal(t, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	assert.EqualValues(t, 1, cms.Status.FailedDestinations)
	assert.EqualValues(t, 2, cms.Status.SyncedDestinations)
	require.NotEmpty(t, cms.Status.Destinations)
	assert.Equal(t, "ns-b", cms.Status.Destinations[0].Namespace)
	assert.Equal(t, syncv1.DestinationConflict, cms.Status.Destinations[0].State)
	assert.Equal(t, []string{syncv1.ReasonConflict}, e.rec.warnings())

	got := e.copyIn("ns-b")
	assert.Equal(t, map[string]string{"theirs": "x"}, got.Data)
	assert.Equal(t, map[string]string{"owner": "someone"}, got.Labels)

	// The conflicting object is watched, so its deletion wakes the sync.
	assert.Contains(t, watchedObjects(cms), objectKey(syncer.KindConfigMap, "ns-b", testSourceName))
	list := &syncv1.ConfigMapSyncList{}
	require.NoError(t, e.client.List(t.Context(), list, client.MatchingFields{watchedObjectIndex: objectKey("ConfigMap", "ns-b", testSourceName)}))
	assert.Len(t, list.Items, 1)

	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), got)) })
	e.mustReconcile()
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Equal(t, "value", e.copyIn("ns-b").Data["key"])
}

func TestReconcile_MissingListedNamespace(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Destination.Namespaces = []string{"ns-a", "not-yet"}
	}), newSourceConfigMap())
	e.mustReconcile()
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.EqualValues(t, 1, cms.Status.DesiredDestinations)
	assert.Equal(t, []syncv1.DestinationStatus{
		{Namespace: "not-yet", State: syncv1.DestinationNamespaceNotFound,
			Message: "the namespace does not exist or is being deleted; the copy is written when it appears"},
		{Namespace: "ns-a", State: syncv1.DestinationSynced},
	}, cms.Status.Destinations)
	assert.Nil(t, e.copyIn("not-yet"))
}

func TestReconcile_NeverWritesOverSource(t *testing.T) {
	// Listing the source's own namespace, and selecting it, must not make the operator write over the source.
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Destination.Namespaces = []string{testCMSNamespace, "ns-a"}
	}), newSourceConfigMap())
	e.mustReconcile()
	for _, w := range e.recordedWrites() {
		assert.NotContains(t, w, "ConfigMap "+testCMSNamespace+"/", "no write to the source namespace")
	}
	src := e.configMap(testCMSNamespace, testSourceName)
	assert.NotContains(t, src.Labels, syncv1.OwnerUIDLabel)
	assert.EqualValues(t, 1, e.cms().Status.DesiredDestinations)
}

// TestReconcile_ReplacementRefusedKeepsTheCopy: when the API server would refuse the new object (here, its dry run
// is refused), the immutable copy that cannot be patched is not deleted: the destination keeps its old copy and
// the failure is reported, instead of being left with none.
func TestReconcile_ReplacementRefusedKeepsTheCopy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-a")
		cp.Immutable = cmsPtr(true)
		require.NoError(t, c.Update(t.Context(), cp))
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.setFault(func(verb string, obj client.Object) error {
		if verb == "create" && obj.GetGenerateName() != "" && obj.GetNamespace() == "ns-a" {
			return apierrors.NewForbidden(corev1.Resource("configmaps"), "", errors.New("a policy refuses it"))
		}
		return nil
	})
	_, err := e.reconcile()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the replacement would be refused")
	assert.NotContains(t, e.recordedWrites(), "delete *v1.ConfigMap ns-a/"+testSourceName, "the copy in place is not deleted")
	cp := e.copyIn("ns-a")
	require.NotNil(t, cp, "the destination keeps a copy")
	assert.Equal(t, "value", cp.Data["key"])
	assert.Equal(t, "new", e.copyIn("ns-b").Data["key"], "other destinations are synced")
}

// TestReconcile_ImmutableCopyMetadataIsPatchedInPlace: a source change of metadata only patches immutable copies
// in place: nothing is deleted or created.
func TestReconcile_ImmutableCopyMetadataIsPatchedInPlace(t *testing.T) {
	src := newSourceConfigMap()
	src.Immutable = cmsPtr(true)
	e := newCMSEnv(t, newTestCMS(), src)
	e.mustReconcile()
	before := e.copyIn("ns-a").UID
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Labels["team"] = "billing"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.resetWrites()
	e.mustReconcile()
	for _, w := range e.recordedWrites() {
		assert.False(t, strings.HasPrefix(w, "delete ") || strings.HasPrefix(w, "create "), "no replacement: %s", w)
	}
	cp := e.copyIn("ns-a")
	assert.Equal(t, before, cp.UID, "the same object")
	assert.Equal(t, "billing", cp.Labels["team"])
}
