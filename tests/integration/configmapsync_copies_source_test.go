package integration

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// syncFixture is one source namespace, one destination namespace and a ConfigMapSync between them.
type syncFixture struct {
	src, dst string
	cms      *syncv1beta1.ConfigMapSync
}

func newSyncFixture(t *testing.T, configMapName string) syncFixture {
	f := syncFixture{src: kit.NewNamespace(t, "src"), dst: kit.NewNamespace(t, "dst")}
	f.cms = &syncv1beta1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.src, Name: "sync-" + configMapName},
		Spec: syncv1beta1.ConfigMapSyncSpec{
			SourceNamespace: f.src, DestinationNamespace: f.dst, ConfigMapName: configMapName,
		},
	}
	return f
}

func (f syncFixture) copyOf(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: f.dst, Name: name}}
}

func TestCreatingAConfigMapSyncCopiesTheSourceAndRecordsStatus(t *testing.T) {
	f := newSyncFixture(t, "app-settings")
	src := harness.ConfigMap(f.src, "app-settings", map[string]string{"log-level": "info", "colour": "blue"})
	src.BinaryData = map[string][]byte{"logo.png": {0x89, 'P', 'N', 'G', 0x00, 0xff}}
	kit.Create(t, src)
	kit.Create(t, f.cms)

	harness.Eventually(t, k8s, f.copyOf("app-settings"), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, src.Data, cp.Data)
		assert.Equal(c, src.BinaryData, cp.BinaryData)
		assert.Equal(c, syncv1.ManagedByValue, cp.Labels[syncv1.ManagedByLabel])
		assert.Equal(c, string(f.cms.UID), cp.Labels[syncv1.OwnerUIDLabel])
		content, err := syncer.ContentOf(src)
		assert.NoError(c, err)
		assert.Equal(c, content.Hash(), cp.Annotations[syncv1.ContentHashAnnotation])
	})
	harness.Eventually(t, k8s, f.cms, func(c *assert.CollectT, cms *syncv1beta1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusSynced, cms.Status.SyncStatus)
		assert.NotNil(c, cms.Status.LastSyncTime)
	})
}

func TestChangingTheSourceChangesTheCopy(t *testing.T) {
	f := newSyncFixture(t, "feature-flags")
	src := harness.ConfigMap(f.src, "feature-flags", map[string]string{"search": "off"})
	kit.Create(t, src)
	kit.Create(t, f.cms)
	harness.Eventually(t, k8s, f.copyOf("feature-flags"), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "off", cp.Data["search"])
	})

	src.Data = map[string]string{"search": "on", "checkout": "v2"}
	require.NoError(t, k8s.Update(context.Background(), src))

	harness.Eventually(t, k8s, f.copyOf("feature-flags"), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, src.Data, cp.Data)
	})
}

func TestATamperedCopyIsRestored(t *testing.T) {
	f := newSyncFixture(t, "limits")
	kit.Create(t, harness.ConfigMap(f.src, "limits", map[string]string{"max": "10"}))
	kit.Create(t, f.cms)
	cp := f.copyOf("limits")
	harness.Eventually(t, k8s, cp, func(c *assert.CollectT, cp *corev1.ConfigMap) { assert.Equal(c, "10", cp.Data["max"]) })

	// Someone edits the copy's data but leaves the hash annotation in place.
	update(t, cp, func() { cp.Data["max"] = "9999" })

	harness.Eventually(t, k8s, f.copyOf("limits"), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "10", cp.Data["max"])
	})

	// The operator saw the edit without holding any copy's data: its copy store keeps the hash of what the copy
	// holds, computed from the data. (Eventually: the store may see the restoring write a moment after the test.)
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		view := env.OperatorCopies.Get(syncer.KindConfigMap, client.ObjectKeyFromObject(f.copyOf("limits")))
		require.NotNil(c, view)
		assert.Equal(c, syncer.HashOf(harness.ConfigMap(f.src, "limits", map[string]string{"max": "10"})), view.Hash())
		assert.True(c, view.Proven())
	}, 10*time.Second, 50*time.Millisecond)
}

func TestAnObjectTheOperatorDoesNotOwnIsNeverOverwritten(t *testing.T) {
	f := newSyncFixture(t, "shared")
	kit.Create(t, harness.ConfigMap(f.src, "shared", map[string]string{"owner": "source"}))
	theirs := harness.ConfigMap(f.dst, "shared", map[string]string{"owner": "someone-else"})
	kit.Create(t, theirs)
	kit.Create(t, f.cms)

	harness.Eventually(t, k8s, f.cms, func(c *assert.CollectT, cms *syncv1beta1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	})
	got := f.copyOf("shared")
	require.NoError(t, k8s.Get(context.Background(), clientKey(got), got))
	assert.Equal(t, map[string]string{"owner": "someone-else"}, got.Data)
	assert.Equal(t, theirs.ResourceVersion, got.ResourceVersion, "the conflicting object must not be written at all")
	assert.NotContains(t, got.Labels, syncv1.ManagedByLabel)
}

func TestAMissingSourceIsReportedAndSyncedWhenItAppears(t *testing.T) {
	f := newSyncFixture(t, "late")
	kit.Create(t, f.cms)
	harness.Eventually(t, k8s, f.cms, func(c *assert.CollectT, cms *syncv1beta1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusSourceNotFound, cms.Status.SyncStatus)
	})
	assert.True(t, kit.Absent(t, f.copyOf("late")))

	kit.Create(t, harness.ConfigMap(f.src, "late", map[string]string{"arrived": "yes"}))

	harness.Eventually(t, k8s, f.copyOf("late"), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, "yes", cp.Data["arrived"])
	})
	harness.Eventually(t, k8s, f.cms, func(c *assert.CollectT, cms *syncv1beta1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusSynced, cms.Status.SyncStatus)
	})
}

// TestARestartedOperatorRewritesNothingUpToDate: a new operator process lists the copies into its data-less cache
// (a streamed list, whose transform runs twice) and must see each copy's true content: the copy edited while no
// operator ran is restored, the others are not written.
func TestARestartedOperatorRewritesNothingUpToDate(t *testing.T) {
	src := kit.NewNamespace(t, "src")
	dst := []string{kit.NewNamespace(t, "dst"), kit.NewNamespace(t, "dst"), kit.NewNamespace(t, "dst")}
	kit.Create(t, harness.ConfigMap(src, "bundle", map[string]string{"ca.crt": strings.Repeat("c", 100<<10)}))
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "bundle"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "bundle"},
			Destination: syncv1.Destination{Namespaces: dst},
		},
	}
	kit.Create(t, cms)
	for _, ns := range dst {
		harness.Eventually(t, k8s, harness.ConfigMap(ns, "bundle", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Len(c, cp.Data["ca.crt"], 100<<10)
		})
	}

	othersWritten := func() []harness.Write {
		return env.Calls.Writes(func(w harness.Write) bool {
			return w.Kind == "ConfigMap" && slices.Contains(dst[1:], w.Namespace)
		})
	}
	stopOperator()
	before := len(othersWritten())
	edited := harness.ConfigMap(dst[0], "bundle", nil)
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(edited), edited))
	update(t, edited, func() { edited.Data["ca.crt"] = "edited while no operator ran" })
	startOperator(t)

	harness.Eventually(t, k8s, harness.ConfigMap(dst[0], "bundle", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Len(c, cp.Data["ca.crt"], 100<<10, "the edit is undone")
	})
	assert.Equal(t, before, len(othersWritten()), "copies that were up to date are not written again: %v", othersWritten()[before:])
}
