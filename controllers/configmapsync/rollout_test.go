package configmapsync

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/controllers/rollout"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
)

// envDeployment returns a Deployment of namespace that reads the test's copy through envFrom, created at created.
func envDeployment(namespace, name string, created time.Time) *appsv1.Deployment {
	return testkit.Deployment(namespace, name, testkit.ConfigMapEnv(testSourceName), created)
}

// tokenOf returns a Deployment's rollout token for the test's copy; "" when it has none.
func (e *cmsEnv) tokenOf(d *appsv1.Deployment) string {
	e.t.Helper()
	got := &appsv1.Deployment{}
	require.NoError(e.t, e.client.Get(e.t.Context(), client.ObjectKeyFromObject(d), got))
	return got.Spec.Template.Annotations[syncer.RolloutAnnotation(syncer.KindConfigMap, testSourceName)]
}

// currentToken returns the token of the copy in namespace as it is now.
func (e *cmsEnv) currentToken(namespace string) string {
	e.t.Helper()
	cp := e.copyIn(namespace)
	require.NotNil(e.t, cp)
	return syncer.RolloutToken(cp.UID, cp.Annotations[syncv1.ContentHashAnnotation])
}

// restarts returns the workload patches among the writes recorded since the last reset, as "namespace/name".
func (e *cmsEnv) restarts() []string {
	var out []string
	for _, w := range e.recordedWrites() {
		if rest, ok := strings.CutPrefix(w, "patch *v1.Deployment "); ok {
			out = append(out, rest)
		}
	}
	slices.Sort(out)
	return out
}

func changeSource(t *testing.T, e *cmsEnv, value string) {
	t.Helper()
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = value
		require.NoError(t, c.Update(t.Context(), src))
	})
}

func newRolloutEnv(t *testing.T, deployments ...*appsv1.Deployment) *cmsEnv {
	t.Helper()
	objs := make([]client.Object, 0, 2+len(deployments))
	objs = append(objs, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "1s"}
	}), newSourceConfigMap())
	for _, d := range deployments {
		objs = append(objs, d)
	}
	e := newCMSEnv(t, objs...)
	for _, d := range deployments {
		e.ns.AddDeployment(d)
	}
	return e
}

func TestReconcile_ARestartOwedInOneNamespaceIsMadeWhateverFailsInAnother(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour)
	inA, inB := envDeployment("ns-a", "app", hourAgo), envDeployment("ns-b", "app", hourAgo)
	e := newRolloutEnv(t, inA, inB)
	e.mustReconcile()
	assert.Empty(t, e.restarts(), "the first copies restart nothing")

	changeSource(t, e, "rotated")
	e.setFault(func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "patch" && obj.GetNamespace() == "ns-b" {
			return errors.New("injected: the copy in ns-b cannot be written")
		}
		return nil
	})
	_, err := e.reconcile()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ns-b")
	assert.Equal(t, []string{"ns-a/app"}, e.restarts(), "the copy written is rolled out though another failed")
	assert.Equal(t, e.currentToken("ns-a"), e.tokenOf(inA))
	assert.Empty(t, e.tokenOf(inB), "the copy in ns-b still holds the old content: nothing to restart for")

	e.setFault(nil)
	e.resetWrites()
	e.mustReconcile()
	assert.Equal(t, []string{"ns-b/app"}, e.restarts(), "ns-b's restart is made once its copy is; ns-a's is not made again")
	assert.Equal(t, e.currentToken("ns-b"), e.tokenOf(inB))

	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.restarts(), "nothing is restarted twice for one change")
}

func TestReconcile_AFailedRestartStopsNoOtherAndIsRetried(t *testing.T) {
	hourAgo := time.Now().Add(-time.Hour)
	x, y, z := envDeployment("ns-a", "x", hourAgo), envDeployment("ns-a", "y", hourAgo),
		envDeployment("ns-a", "z", hourAgo)
	e := newRolloutEnv(t, x, y, z)
	e.mustReconcile()
	changeSource(t, e, "rotated")
	e.setFault(func(verb string, obj client.Object) error {
		if verb == "patch" && obj.GetName() == "y" {
			return errors.New("injected: a webhook refuses the patch")
		}
		return nil
	})
	_, err := e.reconcile()
	require.Error(t, err, "a failed restart is returned, so the reconcile is retried with backoff")
	assert.False(t, isTerminalErr(err))
	assert.Contains(t, err.Error(), "restarting Deployment ns-a/y")
	assert.Equal(t, []string{"ns-a/x", "ns-a/y", "ns-a/z"}, e.restarts(), "every restart is tried")
	assert.NotEmpty(t, e.tokenOf(x))
	assert.Empty(t, e.tokenOf(y))
	assert.NotEmpty(t, e.tokenOf(z))
	assert.Contains(t, e.rec.warnings(), syncv1.EventReasonRolloutFailed)
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)

	e.setFault(nil)
	e.resetWrites()
	e.mustReconcile()
	assert.Equal(t, []string{"ns-a/y"}, e.restarts(), "the retry restarts only what is still owed")
	assert.Equal(t, e.currentToken("ns-a"), e.tokenOf(y))
}

func TestReconcile_ATerminalSyncFailureDoesNotStopTheRetriesOfAFailedRestart(t *testing.T) {
	assert.True(t, isTerminalErr(rollout.JoinError(forbidden(), nil)))
	joined := rollout.JoinError(forbidden(), errors.New("restarting Deployment ns-a/y: timeout"))
	require.Error(t, joined)
	assert.False(t, isTerminalErr(joined), "a failed restart is retried")
	assert.Contains(t, joined.Error(), "forbidden")
	assert.Contains(t, joined.Error(), "ns-a/y")
}

func forbidden() error {
	return lifecycle.Classify(apierrors.NewForbidden(configMapsGR, testSourceName, errors.New("injected")))
}

func TestStampContentChange(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	earlier := now.Add(-time.Hour)
	copyWith := func(hash string, changed time.Time) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns-a", Name: "settings",
			Annotations: map[string]string{syncv1.ContentHashAnnotation: hash}}}
		if !changed.IsZero() {
			syncer.SetContentChangedAt(cm, changed)
		}
		return cm
	}
	cases := []struct {
		name     string
		existing *corev1.ConfigMap
		since    time.Time
		want     time.Time
	}{
		{"new content in an existing copy", copyWith("old", earlier), time.Time{}, now},
		{"unchanged content keeps its record", copyWith("new", earlier), now, earlier},
		{"unchanged content without a record gets none", copyWith("new", time.Time{}), now, time.Time{}},
		{"a new copy takes its siblings' change", nil, earlier, earlier},
		{"a new copy of content that never changed records nothing", nil, time.Time{}, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			desired := copyWith("new", time.Time{})
			var existing client.Object
			if tc.existing != nil {
				existing = tc.existing
			}
			stampContentChange(desired, existing, tc.since, now)
			assert.True(t, tc.want.Equal(syncer.ContentChangedAt(desired)), "got %v", syncer.ContentChangedAt(desired))
		})
	}
}

func TestContentSince(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return now.Add(time.Duration(-h) * time.Hour) }
	cp := func(ns, name, hash string, changed time.Time, deleting bool) client.Object {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{syncv1.ContentHashAnnotation: hash}}}
		if !changed.IsZero() {
			syncer.SetContentChangedAt(cm, changed)
		}
		if deleting {
			cm.DeletionTimestamp = &metav1.Time{Time: now}
		}
		return cm
	}
	owned := func(objs ...client.Object) map[types.NamespacedName]client.Object {
		m := map[types.NamespacedName]client.Object{}
		for _, o := range objs {
			m[client.ObjectKeyFromObject(o)] = o
		}
		return m
	}
	assert.True(t, contentSince(owned(), "settings", "h", now).IsZero(), "no copies: the content never changed")
	assert.Equal(t, at(1), contentSince(owned(cp("a", "settings", "h", at(2), false), cp("b", "settings", "h", at(1), false)), "settings", "h", now))
	assert.Equal(t, now, contentSince(owned(cp("a", "settings", "h", at(2), false), cp("b", "settings", "old", at(3), false)), "settings", "h", now),
		"a copy with other content: the content changes now")
	assert.Equal(t, at(2), contentSince(owned(cp("a", "settings", "h", at(2), false), cp("b", "settings", "old", at(3), true),
		cp("c", "renamed", "old", time.Time{}, false)), "settings", "h", now), "copies being deleted and of another name do not count")
}
