package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// Restarts that are due are never lost (issue 27): they are owed by what the objects record, not by what one
// reconcile remembers.

// generationOf returns a Deployment's generation: 1 at creation, one more for each change of its spec, so for
// each restart the operator makes (nothing else changes these Deployments).
func generationOf(t *testing.T, d *appsv1.Deployment) int64 {
	t.Helper()
	got := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(d), got))
	return got.Generation
}

// restartedForCopy reports whether a Deployment was restarted for the content the copy kind/name in its namespace
// holds now.
func restartedForCopy(t *testing.T, d *appsv1.Deployment, kind, name string) bool {
	t.Helper()
	cp := syncer.NewObject(kind)
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: d.Namespace, Name: name}, cp); err != nil {
		return false
	}
	return rolloutTokenOf(t, d, kind, name) == syncer.RolloutToken(cp.GetUID(), cp.GetAnnotations()[syncv1.ContentHashAnnotation])
}

// workloadPatchesFail makes the operator's writes to the workloads of namespace fail, or none when namespace is "".
func workloadPatchesFail(namespace string) {
	if namespace == "" {
		env.Calls.FailWrites(nil)
		return
	}
	env.Calls.FailWrites(func(w harness.Write) bool { return w.Kind == "Deployment" && w.Namespace == namespace })
}

// patchesOf returns how many patches the operator sent to the Deployment d (failed ones included).
func patchesOf(d *appsv1.Deployment) int {
	return len(env.Calls.Writes(func(w harness.Write) bool {
		return w.Verb == "patch" && w.Kind == "Deployment" && w.Namespace == d.Namespace && w.Name == d.Name
	}))
}

func TestARotatedSecretRestartsItsReadersWhereverItsCopyIsWrittenAndOnceABlockedCopyIsToo(t *testing.T) {
	src, open, blocked := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "open"), kit.NewNamespace(t, "blocked")
	source := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "db"}, Data: map[string][]byte{"password": []byte("old")}}
	kit.Create(t, source)
	inOpen, inBlocked := usingSecret(deployment(open, "app", "db", "env")), usingSecret(deployment(blocked, "app", "db", "env"))
	kit.Create(t, inOpen)
	kit.Create(t, inBlocked)
	cms := v1Sync(src, "db", "db", open, blocked)
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	cms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "1s"}
	kit.Create(t, cms)
	kit.Ready(t, cms)

	// The tenant of one namespace makes its copy impossible to replace: a finalizer of its own, and immutable.
	cpBlocked := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: blocked, Name: "db"}}
	update(t, cpBlocked, func() { cpBlocked.Finalizers = append(cpBlocked.Finalizers, "tenant.example.com/keep") })
	update(t, cpBlocked, func() { cpBlocked.Immutable = ptr.To(true) })

	update(t, source, func() { source.Data["password"] = []byte("rotated") })
	require.Eventually(t, func() bool { return restartedForCopy(t, inOpen, syncer.KindSecret, "db") }, waitFor, tick,
		"the reader of the copy that was written is restarted, though the sync fails in another namespace")
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.True(c, meta.IsStatusConditionFalse(cms.Status.Conditions, syncv1.ReadyCondition), "the blocked copy fails the sync")
	})
	assert.Equal(t, int64(1), generationOf(t, inBlocked), "the blocked namespace's copy holds the old value: no restart yet")

	// The tenant lets go: the copy goes, the operator writes the new one, and its reader is restarted too.
	update(t, cpBlocked, func() { cpBlocked.Finalizers = nil })
	require.Eventually(t, func() bool { return restartedForCopy(t, inBlocked, syncer.KindSecret, "db") }, waitFor, tick,
		"the reader of the copy that was blocked is restarted once its copy holds the new value")
	kit.Ready(t, cms)
	time.Sleep(2 * time.Second) // a debounce window and more: any second restart would have been made
	assert.Equal(t, int64(2), generationOf(t, inOpen), "restarted exactly once")
	assert.Equal(t, int64(2), generationOf(t, inBlocked), "restarted exactly once")
}

func TestARestartDueWhenTheOperatorStopsIsMadeByTheNextOneAndNothingElseIs(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "1"})
	kit.Create(t, source)
	app := deployment(dst, "app", "settings", "env")
	kit.Create(t, app)
	cms := v1Sync(src, "settings", "settings", dst)
	cms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "8s"}
	kit.Create(t, cms)
	kit.Ready(t, cms)

	// The operator writes the new content and stops before it could restart the workload: here every patch of the
	// workload fails until it stops; a process killed between the two writes leaves the same state.
	workloadPatchesFail(dst)
	t.Cleanup(func() { workloadPatchesFail("") })
	update(t, source, func() { source.Data["k"] = "2" })
	require.Eventually(t, func() bool { return patchesOf(app) > 0 }, waitFor, tick, "the restart was tried")
	stopOperator()
	workloadPatchesFail("")
	startOperator(t)
	require.Eventually(t, func() bool { return restartedForCopy(t, app, syncer.KindConfigMap, "settings") }, waitFor, tick,
		"the next operator makes the restart the last one owed")
	assert.Equal(t, int64(2), generationOf(t, app))

	// A change inside the debounce window waits for its end; the operator stops meanwhile, and the next one makes
	// the restart when the window ends.
	update(t, source, func() { source.Data["k"] = "3" })
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Contains(c, cms.Status.PendingRollouts, dst)
	})
	stopOperator()
	startOperator(t)
	require.Eventually(t, func() bool { return restartedForCopy(t, app, syncer.KindConfigMap, "settings") }, waitFor, tick,
		"the debounced restart is made by the next operator")
	assert.Equal(t, int64(3), generationOf(t, app))
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) { assert.Empty(c, cms.Status.PendingRollouts) })

	// With nothing owed, an operator restart restarts nothing.
	stopOperator()
	startOperator(t)
	kit.Ready(t, cms)
	time.Sleep(2 * time.Second)
	assert.Equal(t, int64(3), generationOf(t, app), "an operator restart is not a change")
}

func TestARotationWhoseRestartFailedIsRestartedByTheNextOperator(t *testing.T) {
	ns := kit.NewNamespace(t, "msowed")
	envUser := usingSecret(deployment(ns, "env-user", "db", "env"))
	kit.Create(t, envUser)
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{Length: 24}))
	ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "1s"}
	kit.Create(t, ms)
	msReady(t, ms)

	workloadPatchesFail(ns)
	t.Cleanup(func() { workloadPatchesFail("") })
	update(t, ms, func() { ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "now"} })
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		assert.Equal(c, "now", ms.Status.LastHandledRotationRequest)
	})
	require.Eventually(t, func() bool { return patchesOf(envUser) > 0 }, waitFor, tick, "the restart was tried")
	stopOperator()
	workloadPatchesFail("")
	startOperator(t)
	require.Eventually(t, func() bool {
		s := generatedSecret(t, ms)
		return secretRestartToken(t, envUser) == syncer.RolloutToken(s.UID, syncer.HashOf(s))
	}, waitFor, tick, "the rotation's restart is made by the next operator")
	time.Sleep(2 * time.Second)
	assert.Equal(t, int64(2), generationOf(t, envUser), "restarted exactly once")
}
