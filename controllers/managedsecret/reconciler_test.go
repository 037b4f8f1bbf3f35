package managedsecret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
)

// --- fixtures --------------------------------------------------------------------------------------------------

var msT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newManagedSecret returns a ManagedSecret db in namespace team-a with four keys: a literal and three generated.
func newManagedSecret() *syncv1.ManagedSecret {
	username := "app"
	return &syncv1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db", UID: "ms-uid", Generation: 1},
		Spec: syncv1.ManagedSecretSpec{Keys: []syncv1.ManagedSecretKey{
			{Name: "username", Literal: &username},
			{Name: "password", Random: &syncv1.RandomStringGenerator{Length: 24}},
			{Name: "api-key", Bytes: &syncv1.RandomBytesGenerator{Length: 16, Encoding: syncv1.BytesEncodingHex}},
			{Name: "id", UUID: &syncv1.UUIDGenerator{}},
		}},
	}
}

// --- reconcile -------------------------------------------------------------------------------------------------

type msEvents struct {
	mu     sync.Mutex
	events []string // "Type Reason: message"
}

func (f *msEvents) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, _, note string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, eventtype+" "+reason+": "+fmt.Sprintf(note, args...))
}

func (f *msEvents) AnnotatedEventf(regarding, related runtime.Object, _ map[string]string, eventtype, reason, action, note string, args ...any) {
	f.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

func (f *msEvents) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

type msFixture struct {
	t      *testing.T
	client client.WithWatch
	r      *Reconciler
	events *msEvents
	now    time.Time
	writes []string // "verb kind/name"
	// fault, when set, answers the writes it returns an error for.
	fault func(verb string, obj client.Object) error
}

func newMSFixture(t *testing.T, objs ...client.Object) *msFixture {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, syncv1.AddToScheme(s))
	f := &msFixture{t: t, events: &msEvents{}, now: msT0}
	f.client = fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&syncv1.ManagedSecret{}).
		WithInterceptorFuncs(testkit.WriteTap(func(verb string, obj client.Object) error {
			f.writes = append(f.writes, fmt.Sprintf("%s %T/%s", verb, obj, obj.GetName()))
			if f.fault != nil {
				return f.fault(verb, obj)
			}
			return nil
		})).Build()
	f.r = &Reconciler{Client: f.client, APIReader: f.client, Metadata: &testkit.Metadata{}, Recorder: f.events,
		Copies: copystore.NewDirect(f.client, testKeys), Now: func() time.Time { return f.now }}
	return f
}

func (f *msFixture) reconcile(ms *syncv1.ManagedSecret) (ctrl.Result, error) {
	f.t.Helper()
	return f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ms)})
}

func (f *msFixture) get(obj client.Object) {
	f.t.Helper()
	require.NoError(f.t, f.client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
}

func TestReconcile_CreatesRotatesOnScheduleAndOtherwiseWritesNothing(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "1h"
	f := newMSFixture(t, ms)

	res, err := f.reconcile(ms)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, res.RequeueAfter, "wakes up when the rotation is due, not before")
	f.get(ms)
	assert.Contains(t, ms.Finalizers, syncv1.Finalizer)
	assert.True(t, meta.IsStatusConditionTrue(ms.Status.Conditions, syncv1.ReadyCondition))
	assert.Equal(t, int32(4), ms.Status.KeyCount)
	assert.Equal(t, msT0.Add(time.Hour), ms.Status.NextRotationTime.UTC())
	assert.Equal(t, ms.Generation, ms.Status.ObservedGeneration)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"}}
	f.get(secret)
	first := secret.DeepCopy()

	// Woken early (any event): nothing to write, status included; the wake-up keeps its time.
	writes := len(f.writes)
	f.now = msT0.Add(40 * time.Minute)
	res, err = f.reconcile(ms)
	require.NoError(t, err)
	assert.Equal(t, 20*time.Minute, res.RequeueAfter)
	assert.Len(t, f.writes, writes, "no write when nothing changed: %v", f.writes[writes:])

	f.now = msT0.Add(time.Hour)
	res, err = f.reconcile(ms)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, res.RequeueAfter)
	f.get(secret)
	assert.NotEqual(t, first.Data["password"], secret.Data["password"])
	f.get(ms)
	assert.Equal(t, int64(1), ms.Status.RotationCount)
	assert.Equal(t, []string{
		"Normal SecretReady: Secret db holds the 4 keys of the spec",
		"Normal Rotated: Rotated the generated keys of Secret db as scheduled (rotation 1)",
	}, f.events.list(), "one event when first Ready, one per rotation")
}

func TestReconcile_AForeignSecretIsAConflictAndIsNeverWritten(t *testing.T) {
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"}, Data: map[string][]byte{"k": []byte("theirs")}}
	ms := newManagedSecret()
	f := newMSFixture(t, ms, foreign)
	for range 3 {
		res, err := f.reconcile(ms)
		require.NoError(t, err)
		assert.Zero(t, res.RequeueAfter, "the Secret watch wakes it when the foreign Secret goes")
	}
	f.get(ms)
	cond := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition)
	require.NotNil(t, cond)
	assert.Equal(t, syncv1.ReasonConflict, cond.Reason)
	assert.Equal(t, []string{"Warning Conflict: " + cond.Message}, f.events.list(), "one event for the transition, not one per retry")
	for _, w := range f.writes {
		assert.NotContains(t, w, " *v1.Secret/", "wrote to the foreign Secret: %s", w)
	}
	got := &corev1.Secret{ObjectMeta: foreign.ObjectMeta}
	f.get(got)
	assert.Equal(t, "theirs", string(got.Data["k"]))
	assert.Equal(t, foreign.ResourceVersion, got.ResourceVersion)
}

func TestReconcile_AnInvalidSpecStalls(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "1s"
	f := newMSFixture(t, ms)
	_, err := f.reconcile(ms)
	require.ErrorIs(t, err, reconcile.TerminalError(nil))
	f.get(ms)
	stalled := meta.FindStatusCondition(ms.Status.Conditions, syncv1.StalledCondition)
	require.NotNil(t, stalled)
	assert.Equal(t, syncv1.ReasonInvalidSpec, stalled.Reason)
	assert.True(t, strings.Contains(stalled.Message, "spec.rotationInterval"), stalled.Message)
}

func TestReconcile_ARotationsRestartIsOwedUntilItIsMade(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "1h"
	ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "1s"}
	d := secretDeployment("team-a", "app", "db", msT0.Add(-time.Hour))
	f := newMSFixture(t, ms, d)
	f.r.Metadata.(*testkit.Metadata).AddDeployment(d)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db"}}
	token := func() string {
		got := &appsv1.Deployment{}
		f.get(secret)
		require.NoError(t, f.client.Get(t.Context(), client.ObjectKeyFromObject(d), got))
		return got.Spec.Template.Annotations[syncer.RolloutAnnotation(syncer.KindSecret, "db")]
	}
	patches := func() (n int) {
		for _, w := range f.writes {
			if strings.HasPrefix(w, "patch *v1.Deployment/") {
				n++
			}
		}
		return n
	}

	_, err := f.reconcile(ms)
	require.NoError(t, err)
	assert.Empty(t, token(), "generating the Secret restarts nothing")
	assert.True(t, syncer.ContentChangedAt(secret).IsZero(), "new values replace none")

	f.now = msT0.Add(time.Hour)
	f.fault = func(verb string, obj client.Object) error {
		if _, ok := obj.(*appsv1.Deployment); ok && verb == "patch" {
			return errors.New("injected: the patch is refused")
		}
		return nil
	}
	_, err = f.reconcile(ms)
	require.Error(t, err, "a failed restart is retried")
	assert.Contains(t, err.Error(), "restarting Deployment team-a/app")
	assert.Empty(t, token())
	assert.Equal(t, f.now, syncer.ContentChangedAt(secret), "the rotation records when the values changed")
	assert.Contains(t, f.events.list()[len(f.events.list())-1], "Warning "+syncv1.EventReasonRolloutFailed)

	f.fault = nil
	f.now = f.now.Add(time.Minute)
	_, err = f.reconcile(ms)
	require.NoError(t, err)
	assert.Equal(t, syncer.RolloutToken(secret.UID, syncer.HashOf(secret)), token(), "the retry makes the restart still owed")
	made := patches()
	_, err = f.reconcile(ms)
	require.NoError(t, err)
	assert.Equal(t, made, patches(), "and makes it once")
}
