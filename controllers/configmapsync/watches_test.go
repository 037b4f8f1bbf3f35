package configmapsync

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- helpers and indexes --------------------------------------------------------------------------------------

func TestIndexFuncs(t *testing.T) {
	cms := newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Source.Namespace = ""
		c.Spec.Destination.Name = "renamed"
		c.Status.Destinations = []syncv1.DestinationStatus{
			{Namespace: "ns-a", State: syncv1.DestinationSynced},
			{Namespace: "ns-b", State: syncv1.DestinationConflict},
			{Namespace: "ns-c", State: syncv1.DestinationFailed},
		}
	})
	assert.Equal(t, []string{"ConfigMap/team-a/app-config", "ConfigMap/ns-b/renamed"}, watchedObjects(cms))
	assert.Equal(t, testDestinations, destinationNamespaces(cms))

	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{}
	assert.Equal(t, append(slices.Clone(testDestinations), anyNamespace), destinationNamespaces(cms))
	assert.Equal(t, testDestinations, cms.Spec.Destination.Namespaces, "the index func must not modify the spec")
}

func TestOwnerOfCopy(t *testing.T) {
	src := newSourceConfigMap()
	content, err := syncer.ContentOf(src)
	require.NoError(t, err)
	cp := syncer.Desired(src, content, "ns-a", testSourceName, syncer.OwnerOf(newTestCMS()), testKeys)
	assert.Equal(t, []reconcile.Request{{NamespacedName: testCMSKey}}, ownerOfCopy(t.Context(), cp))
	assert.Nil(t, ownerOfCopy(t.Context(), src))
}

// TestCopyEvents: the echo of the operator's own write wakes nobody; any other version of a copy wakes its
// owner; a deleted copy wakes its owner (to restore it), unless the owner is gone or being deleted, when the
// deletion is the owner's own cleanup.
func TestCopyEvents(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	cp := e.copyIn("ns-a")
	queued := func(ev func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request])) int {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		defer q.ShutDown()
		ev(e.r.copyEvents(), q)
		return q.Len()
	}
	deleted := func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Delete(t.Context(), event.DeleteEvent{Object: cp}, q)
	}
	created := func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Create(t.Context(), event.CreateEvent{Object: cp}, q)
	}
	updated := func(obj client.Object) func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		return func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Update(t.Context(), event.UpdateEvent{ObjectOld: cp, ObjectNew: obj}, q)
		}
	}
	assert.Equal(t, 0, queued(created), "the echo of the operator's own create wakes nobody")
	assert.Equal(t, 1, queued(created), "the same version seen again (a relist) wakes the owner")
	tampered := cp.DeepCopy()
	tampered.Data = map[string]string{"key": "edited by hand"}
	e.setup(func(c client.Client) { require.NoError(t, c.Update(t.Context(), tampered)) })
	assert.Equal(t, 1, queued(updated(tampered)), "a hand edit wakes the owner")
	e.mustReconcile()
	restored := e.copyIn("ns-a")
	require.NotEqual(t, tampered.ResourceVersion, restored.ResourceVersion)
	assert.Equal(t, 0, queued(updated(restored)), "the echo of the operator's own update wakes nobody")
	assert.Equal(t, 1, queued(deleted), "a copy deleted by someone is restored")

	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	assert.Equal(t, 0, queued(deleted), "the owner's own cleanup does not wake it")
	assert.Equal(t, 1, queued(created), "a copy appearing while its owner goes wakes it (orphan cleanup)")
}

func TestWritesInFlight(t *testing.T) {
	assert.Equal(t, 16, writesInFlight(16, 1<<10), "small copies: the configured parallelism")
	assert.Equal(t, 16, writesInFlight(16, 100<<10))
	assert.Equal(t, 8, writesInFlight(16, 1<<20), "1 MiB copies: 8 MiB in flight")
	assert.Equal(t, 1, writesInFlight(16, 64<<20), "always at least one")
	assert.Equal(t, 4, writesInFlight(4, 0), "an empty source")
}

func TestSyncDue(t *testing.T) {
	tests := []struct {
		name     string
		strategy syncv1.SyncStrategy
		observed int64
		request  string
		handled  string
		want     bool
	}{
		{"automatic always", syncv1.SyncStrategyAutomatic, 1, "", "", true},
		{"manual, new generation", syncv1.SyncStrategyManual, 0, "", "", true},
		{"manual, nothing new", syncv1.SyncStrategyManual, 1, "", "", false},
		{"manual, request handled", syncv1.SyncStrategyManual, 1, "r1", "r1", false},
		{"manual, new request", syncv1.SyncStrategyManual, 1, "r2", "r1", true},
		{"manual, request removed", syncv1.SyncStrategyManual, 1, "", "r1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cms := newTestCMS(func(c *syncv1.ConfigMapSync) {
				c.Spec.SyncStrategy = tt.strategy
				c.Status.ObservedGeneration = tt.observed
				c.Status.LastHandledSyncRequest = tt.handled
				if tt.request != "" {
					c.Annotations = map[string]string{syncv1.SyncNowAnnotation: tt.request}
				}
			})
			assert.Equal(t, tt.want, syncDue(cms))
		})
	}
}

// TestSkipStatusOnlyChanges: the echo of the operator's status patch wakes nobody; every change a sync acts on does.
func TestSkipStatusOnlyChanges(t *testing.T) {
	old := newTestCMS()
	old.Generation = 1
	old.Finalizers = []string{syncv1.Finalizer}
	changed := func(mutate func(c *syncv1.ConfigMapSync)) bool {
		n := old.DeepCopy()
		mutate(n)
		return skipStatusOnlyChanges.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n})
	}
	assert.False(t, changed(func(c *syncv1.ConfigMapSync) {
		c.ResourceVersion = "2"
		c.Status.SyncStatus = syncv1.SyncStatusSynced
	}), "status only")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Generation = 2 }), "spec")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.DeletionTimestamp = &metav1.Time{Time: time.Now()} }), "deletion")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) {
		c.Annotations = map[string]string{syncv1.SyncNowAnnotation: "1"}
	}), "sync-now request")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Finalizers = nil }), "finalizer removed by someone")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Labels = map[string]string{"team": "b"} }), "labels")
}
