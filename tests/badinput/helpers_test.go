package badinput

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

const (
	// cmsName is the name of the ConfigMapSync every case sends, in its scene's source namespace.
	cmsName = "cms"
	// sourceName is the source ConfigMap every scene holds.
	sourceName = "settings"
)

// scene is what one case runs in: its own namespaces, so cases run in parallel without seeing each other.
type scene struct {
	src, dstA, dstB string
	// user is the user a case acts as, when not cluster-admin.
	user string
	// snapshot is an object a case must leave untouched, as it was before the case sent its input.
	snapshot *corev1.ConfigMap
}

// newScene creates a source namespace holding the ConfigMap sourceName and two destination namespaces.
func newScene(t *testing.T) *scene {
	t.Helper()
	s := &scene{src: kit.NewNamespace(t, "src"), dstA: kit.NewNamespace(t, "dst-a"), dstB: kit.NewNamespace(t, "dst-b")}
	kit.Create(t, harness.ConfigMap(s.src, sourceName, map[string]string{"k": "v"}))
	return s
}

func (s *scene) namespaces() []string { return []string{s.src, s.dstA, s.dstB} }

// v1Sync returns the scene's ConfigMapSync: it copies the source ConfigMap into dstA.
func (s *scene) v1Sync() *syncv1.ConfigMapSync {
	return &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.src, Name: cmsName},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: sourceName},
			Destination: syncv1.Destination{Namespaces: []string{s.dstA}},
		},
	}
}

// sendV1 creates the scene's ConfigMapSync after mutate and returns the API server's answer.
func sendV1(mutate func(s *scene, cms *syncv1.ConfigMapSync)) func(*testing.T, *scene) error {
	return func(_ *testing.T, s *scene) error {
		cms := s.v1Sync()
		mutate(s, cms)
		return k8s.Create(context.Background(), cms)
	}
}

// get reads obj again and fails the test on error.
func get(t *testing.T, obj client.Object) {
	t.Helper()
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
}

// conflicted waits until cms reports a Conflict in namespace, in status.destinations and in its Ready condition.
func conflicted(t *testing.T, cms *syncv1.ConfigMapSync, namespace string) {
	t.Helper()
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		i := slices.IndexFunc(cms.Status.Destinations, func(d syncv1.DestinationStatus) bool { return d.Namespace == namespace })
		if assert.GreaterOrEqual(c, i, 0, "status.destinations lists %s", namespace) {
			assert.Equal(c, syncv1.DestinationConflict, cms.Status.Destinations[i].State)
			assert.NotEmpty(c, cms.Status.Destinations[i].Message)
		}
		cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, metav1.ConditionFalse, cond.Status)
			assert.Equal(c, syncv1.ReasonConflict, cond.Reason)
		}
	})
}

// nothingWritten checks what a rejection promises: the ConfigMapSync does not exist, no object with the operator's
// labels is in the scene's namespaces, and the operator wrote nothing there.
func nothingWritten(t *testing.T, s *scene) {
	t.Helper()
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: s.src, Name: cmsName}, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the rejected ConfigMapSync must not exist, got %v", err)
	for _, ns := range s.namespaces() {
		for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.SecretList{}} {
			require.NoError(t, k8s.List(context.Background(), list, client.InNamespace(ns), client.HasLabels{syncv1.ManagedByLabel}))
			assert.Zero(t, meta.LenList(list), "no copy may appear in %s", ns)
		}
	}
	assert.Empty(t, env.Calls.Writes(func(w harness.Write) bool {
		return w.Namespace == s.src || w.Namespace == s.dstA || w.Namespace == s.dstB
	}), "the operator must not write in the scene's namespaces")
}

// asUser returns a client acting as a new user with no rights but those the case grants, and the user's name.
func asUser(t *testing.T, prefix string) (client.Client, string) {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, harness.Unique())
	return env.AsUser(t, name), name
}

// mayCreateSyncs lets user create ConfigMapSyncs in namespace.
func mayCreateSyncs(t *testing.T, user, namespace string) {
	t.Helper()
	env.Grant(t, user, namespace, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch")
}
