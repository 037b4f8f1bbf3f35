package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/secretgen"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- fixtures --------------------------------------------------------------------------------------------------

var msT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func msLiteral(name, value string) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{Name: name, Literal: &value}
}

func msRandom(name string, length int32, alphabet syncv1.RandomAlphabet) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{Name: name, Random: &syncv1.RandomStringGenerator{Length: length, Alphabet: alphabet}}
}

func msBytes(name string, length int32, encoding syncv1.BytesEncoding) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{Name: name, Bytes: &syncv1.RandomBytesGenerator{Length: length, Encoding: encoding}}
}

func msUUID(name string) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{Name: name, UUID: &syncv1.UUIDGenerator{}}
}

// newManagedSecret returns a ManagedSecret db in namespace team-a with a literal, a password, an API key and an id.
func newManagedSecret() *syncv1.ManagedSecret {
	return &syncv1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "db", UID: "ms-uid", Generation: 1},
		Spec: syncv1.ManagedSecretSpec{
			Keys: []syncv1.ManagedSecretKey{
				msLiteral("username", "app"),
				msRandom("password", 24, ""),
				msBytes("api-key", 16, syncv1.BytesEncodingHex),
				msUUID("id"),
			},
		},
	}
}

// msPlan plans and fails the test on error.
func msPlan(t *testing.T, ms *syncv1.ManagedSecret, existing *corev1.Secret, now time.Time) secretPlan {
	t.Helper()
	p, err := planSecret(ms, existing, now, secretgen.Default)
	require.NoError(t, err)
	return p
}

// msWritten returns the Secret as the API server would hold it after the plan's write.
func msWritten(p secretPlan) *corev1.Secret {
	s := p.desired.DeepCopy()
	s.ResourceVersion = "written"
	return s
}

// --- planning --------------------------------------------------------------------------------------------------

func TestPlanSecret_GeneratesEveryKeyWithItsSettings(t *testing.T) {
	ms := newManagedSecret()
	p := msPlan(t, ms, nil, msT0)
	require.Equal(t, syncer.ActionCreate, p.action)
	s := p.desired
	assert.Equal(t, "db", s.Name, "secretName defaults to the ManagedSecret's name")
	assert.Equal(t, corev1.SecretTypeOpaque, s.Type)
	assert.Equal(t, "app", string(s.Data["username"]))
	assert.Len(t, s.Data["password"], 24)
	assert.Len(t, s.Data["api-key"], 32, "16 bytes in hex")
	assert.True(t, secretgen.IsUUIDv4(string(s.Data["id"])))
	assert.Len(t, s.Data, 4)
	assert.Equal(t, syncer.ManagedByValue, s.Labels[syncer.ManagedByLabel])
	assert.Equal(t, "ms-uid", s.Labels[syncer.OwnerUIDLabel])
	assert.Equal(t, "team-a/db", s.Annotations[syncer.OwnerAnnotation])
	assert.Equal(t, msT0.Format(time.RFC3339), s.Annotations[syncv1.LastRotationAnnotation])
	assert.Equal(t, "0", s.Annotations[syncv1.RotationCountAnnotation])
	var gens map[string]string
	require.NoError(t, json.Unmarshal([]byte(s.Annotations[syncv1.GeneratorsAnnotation]), &gens))
	assert.ElementsMatch(t, []string{"password", "api-key", "id"}, keysOf(gens), "literals have no generator")
	assert.True(t, p.wake.IsZero(), "nothing to wake up for without an interval or .previous keys")
	assert.Nil(t, p.nextRotation)
}

func TestPlanSecret_DefaultsMatchTheSchemaDefaults(t *testing.T) {
	// The schema fills length and alphabet; an object that reaches the controller without them (or with them
	// spelled out) must plan the same, or a key would be regenerated when defaults get written.
	implicit := newManagedSecret()
	implicit.Spec.Keys = []syncv1.ManagedSecretKey{msRandom("p", 0, ""), msBytes("b", 0, "")}
	explicit := newManagedSecret()
	explicit.Spec.Keys = []syncv1.ManagedSecretKey{msRandom("p", 32, syncv1.AlphabetAlphanumeric), msBytes("b", 32, syncv1.BytesEncodingBase64)}
	first := msPlan(t, implicit, nil, msT0)
	again := msPlan(t, explicit, msWritten(first), msT0.Add(time.Minute))
	assert.Equal(t, syncer.ActionNone, again.action)
	assert.Len(t, first.desired.Data["p"], 32)
}

func TestPlanSecret_NothingChangedPlansNoWrite(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "24h"
	first := msPlan(t, ms, nil, msT0)
	again := msPlan(t, ms, msWritten(first), msT0.Add(23*time.Hour))
	assert.Equal(t, syncer.ActionNone, again.action)
	assert.Equal(t, first.desired.Data, again.desired.Data)
	assert.Equal(t, msT0.Add(24*time.Hour), again.wake, "wakes up when the rotation is due")
}

func TestPlanSecret_RotationIsDueOneIntervalAfterTheLast(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))

	early := msPlan(t, ms, created, msT0.Add(time.Hour-time.Second))
	assert.False(t, early.rotated)
	assert.Equal(t, syncer.ActionNone, early.action)
	assert.Equal(t, msT0.Add(time.Hour), *early.nextRotation)

	due := msPlan(t, ms, created, msT0.Add(time.Hour))
	require.True(t, due.rotated)
	assert.False(t, due.requested)
	assert.Equal(t, syncer.ActionUpdate, due.action)
	assert.Equal(t, int64(1), due.record.count)
	assert.Equal(t, msT0.Add(time.Hour), due.record.lastRotation)
	assert.Equal(t, msT0.Add(2*time.Hour), due.wake)
	assert.Equal(t, created.Data["username"], due.desired.Data["username"], "literals are not rotated")
	for _, k := range []string{"password", "api-key", "id"} {
		assert.NotEqual(t, created.Data[k], due.desired.Data[k], k)
	}
	assert.NotContains(t, due.desired.Data, "password.previous", "no keepPrevious, no .previous")

	// Late (the operator was down): one rotation, and the schedule restarts from it.
	late := msPlan(t, ms, created, msT0.Add(5*time.Hour+30*time.Minute))
	assert.Equal(t, int64(1), late.record.count)
	assert.Equal(t, msT0.Add(6*time.Hour+30*time.Minute), late.wake)
}

func TestPlanSecret_WithoutAnIntervalOnlyRequestsRotate(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))
	years := msPlan(t, ms, created, msT0.Add(10*365*24*time.Hour))
	assert.False(t, years.rotated)
	assert.Equal(t, syncer.ActionNone, years.action)
}

func TestPlanSecret_RotateNowRotatesOncePerNewValue(t *testing.T) {
	ms := newManagedSecret()
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "at-creation"}
	created := msPlan(t, ms, nil, msT0)
	assert.False(t, created.rotated, "a request present at creation is taken as handled: the values are new")
	assert.Equal(t, "at-creation", created.record.request)
	assert.Equal(t, syncer.ActionNone, msPlan(t, ms, msWritten(created), msT0.Add(time.Minute)).action)

	ms.Annotations[syncv1.RotateNowAnnotation] = "2026-03-01T13:00:00Z"
	asked := msPlan(t, ms, msWritten(created), msT0.Add(time.Hour))
	require.True(t, asked.rotated)
	assert.True(t, asked.requested)
	assert.Equal(t, int64(1), asked.record.count)
	assert.Equal(t, "2026-03-01T13:00:00Z", asked.desired.Annotations[syncv1.RotationRequestAnnotation])
	assert.NotEqual(t, created.desired.Data["password"], asked.desired.Data["password"])

	again := msPlan(t, ms, msWritten(asked), msT0.Add(2*time.Hour))
	assert.False(t, again.rotated, "the same request is handled once")
	assert.Equal(t, syncer.ActionNone, again.action)

	delete(ms.Annotations, syncv1.RotateNowAnnotation)
	removed := msPlan(t, ms, msWritten(asked), msT0.Add(3*time.Hour))
	assert.Equal(t, syncer.ActionNone, removed.action, "removing the annotation changes nothing")
	assert.Equal(t, "2026-03-01T13:00:00Z", removed.record.request)
}

func TestPlanSecret_KeepPreviousKeepsTheOldValuesUntilTheyExpire(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "24h"
	ms.Spec.KeepPrevious = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))
	assert.NotContains(t, created.Data, "password.previous", "nothing to keep before the first rotation")

	rotatedAt := msT0.Add(24 * time.Hour)
	rotated := msPlan(t, ms, created, rotatedAt)
	require.True(t, rotated.rotated)
	for _, k := range []string{"password", "api-key", "id"} {
		assert.Equal(t, created.Data[k], rotated.desired.Data[k+".previous"], k)
	}
	assert.NotContains(t, rotated.desired.Data, "username.previous", "literals are not rotated")
	assert.Equal(t, rotatedAt.Add(time.Hour), *rotated.previousExpiry)
	assert.Equal(t, rotatedAt.Add(time.Hour), rotated.wake, "the expiry comes before the next rotation")

	during := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(59*time.Minute))
	assert.Equal(t, syncer.ActionNone, during.action)

	after := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(time.Hour))
	assert.Equal(t, syncer.ActionUpdate, after.action)
	assert.NotContains(t, after.desired.Data, "password.previous")
	assert.Nil(t, after.previousExpiry)
	assert.Equal(t, rotated.desired.Data["password"], after.desired.Data["password"], "the current value stays")
	assert.Equal(t, rotatedAt.Add(24*time.Hour), after.wake)

	// A second rotation inside the window replaces the kept value with the one it replaces.
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "again"}
	second := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(10*time.Minute))
	assert.Equal(t, rotated.desired.Data["password"], second.desired.Data["password.previous"])

	// Unsetting keepPrevious removes the kept values at once.
	delete(ms.Annotations, syncv1.RotateNowAnnotation)
	ms.Spec.KeepPrevious = ""
	unset := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(time.Minute))
	assert.NotContains(t, unset.desired.Data, "password.previous")
}

func TestPlanSecret_SpecChangesTouchOnlyTheKeysConcerned(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))

	ms.Spec.Keys = append(ms.Spec.Keys, msRandom("pin", 6, syncv1.AlphabetNumeric))
	added := msPlan(t, ms, created, msT0.Add(time.Minute))
	assert.Equal(t, syncer.ActionUpdate, added.action)
	assert.Len(t, added.desired.Data["pin"], 6)
	assert.Equal(t, []string{"pin"}, added.generated)
	assertSameValues(t, created, added.desired, "username", "password", "api-key", "id")

	ms.Spec.Keys = ms.Spec.Keys[1:] // username goes
	removed := msPlan(t, ms, msWritten(added), msT0.Add(2*time.Minute))
	assert.NotContains(t, removed.desired.Data, "username")
	assertSameValues(t, added.desired, removed.desired, "password", "api-key", "id", "pin")

	ms.Spec.Keys = append(ms.Spec.Keys, msLiteral("username", "app2"))
	literal := msPlan(t, ms, msWritten(removed), msT0.Add(3*time.Minute))
	assert.Equal(t, "app2", string(literal.desired.Data["username"]))
	assert.Empty(t, literal.generated)

	ms.Spec.Keys[0] = msRandom("password", 40, syncv1.AlphabetHex) // new settings for password
	changed := msPlan(t, ms, msWritten(literal), msT0.Add(4*time.Minute))
	assert.Equal(t, []string{"password"}, changed.generated)
	assert.Len(t, changed.desired.Data["password"], 40)
	assertSameValues(t, literal.desired, changed.desired, "api-key", "id", "pin", "username")
	assert.Equal(t, int64(0), changed.record.count, "new settings are not a rotation")
}

func TestPlanSecret_RepairsWhatWasEditedByHand(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))
	edited := created.DeepCopy()
	edited.Data["password"] = []byte("short")        // not the shape its settings give
	delete(edited.Data, "id")                        // removed
	edited.Data["extra"] = []byte("added by hand")   // not in the spec
	edited.Data["username"] = []byte("someone-else") // a literal changed
	edited.Labels["team"] = "payments"               // other metadata is kept
	edited.Annotations["example.com/note"] = "kept"  // likewise
	p := msPlan(t, ms, edited, msT0.Add(time.Minute))
	assert.Equal(t, syncer.ActionUpdate, p.action)
	assert.Len(t, p.desired.Data["password"], 24)
	assert.True(t, secretgen.IsUUIDv4(string(p.desired.Data["id"])))
	assert.NotContains(t, p.desired.Data, "extra")
	assert.Equal(t, "app", string(p.desired.Data["username"]))
	assert.Equal(t, created.Data["api-key"], p.desired.Data["api-key"])
	assert.Equal(t, "payments", p.desired.Labels["team"])
	assert.Equal(t, "kept", p.desired.Annotations["example.com/note"])
	assert.ElementsMatch(t, []string{"password", "id"}, p.generated)
}

func TestPlanSecret_AValueOfTheRightShapeIsKeptWhenTheRecordIsLost(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))
	lost := created.DeepCopy()
	delete(lost.Annotations, syncv1.GeneratorsAnnotation)
	p := msPlan(t, ms, lost, msT0.Add(time.Minute))
	assert.Empty(t, p.generated, "values that fit their settings are kept")
	assert.Equal(t, created.Data, p.desired.Data)
	assert.Equal(t, syncer.ActionUpdate, p.action, "the record is written back")

	// But a key whose record says it was a literal before is generated, even if the literal would fit.
	ms.Spec.Keys[0] = msRandom("username", 3, syncv1.AlphabetAlphanumeric)
	p = msPlan(t, ms, created, msT0.Add(time.Minute))
	assert.Equal(t, []string{"username"}, p.generated)
}

func TestPlanSecret_TheRecordHoldsNoValue(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.KeepPrevious = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "1"}
	rotated := msPlan(t, ms, created, msT0.Add(time.Minute))
	meta := fmt.Sprint(rotated.desired.Labels, rotated.desired.Annotations)
	for k, v := range rotated.desired.Data {
		if k == "username" {
			continue // the literal is in the spec anyway
		}
		assert.NotContains(t, meta, string(v), "the value of %s is in the metadata", k)
	}
}

func TestPlanSecret_RejectsSpecsTheSchemaWouldReject(t *testing.T) {
	two := syncv1.ManagedSecretKey{Name: "x", UUID: &syncv1.UUIDGenerator{}, Literal: new(string)}
	for name, mutate := range map[string]func(*syncv1.ManagedSecret){
		"no keys":           func(ms *syncv1.ManagedSecret) { ms.Spec.Keys = nil },
		"no source":         func(ms *syncv1.ManagedSecret) { ms.Spec.Keys = []syncv1.ManagedSecretKey{{Name: "x"}} },
		"two sources":       func(ms *syncv1.ManagedSecret) { ms.Spec.Keys = []syncv1.ManagedSecretKey{two} },
		"reserved name":     func(ms *syncv1.ManagedSecret) { ms.Spec.Keys[1].Name = "password.previous" },
		"invalid name":      func(ms *syncv1.ManagedSecret) { ms.Spec.Keys[1].Name = "..x" },
		"duplicate name":    func(ms *syncv1.ManagedSecret) { ms.Spec.Keys[1].Name = "username" },
		"too long":          func(ms *syncv1.ManagedSecret) { ms.Spec.Keys[1].Random.Length = 4097 },
		"bad alphabet":      func(ms *syncv1.ManagedSecret) { ms.Spec.Keys[1].Random.Alphabet = "Emoji" },
		"short interval":    func(ms *syncv1.ManagedSecret) { ms.Spec.RotationInterval = "30s" },
		"no duration":       func(ms *syncv1.ManagedSecret) { ms.Spec.RotationInterval = "monthly" },
		"long keepPrevious": func(ms *syncv1.ManagedSecret) { ms.Spec.KeepPrevious = "8761h" },
	} {
		t.Run(name, func(t *testing.T) {
			ms := newManagedSecret()
			mutate(ms)
			_, err := planSecret(ms, nil, msT0, secretgen.Default)
			var invalid *invalidSpecError
			require.ErrorAs(t, err, &invalid)
			assert.ErrorIs(t, err, reconcile.TerminalError(nil))
		})
	}
}

func TestRedactInvalid_KeepsTheFieldsAndTheReasonButNotTheMessages(t *testing.T) {
	err := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "db", field.ErrorList{
		field.Invalid(field.NewPath("data").Key(".dockerconfigjson"), "<redacted>", "invalid character 's' looking for beginning of value"),
	})
	red := redactInvalid(err)
	assert.True(t, apierrors.IsInvalid(red))
	assert.Contains(t, red.Error(), "data[.dockerconfigjson]")
	assert.NotContains(t, red.Error(), "'s'")
	other := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "db", errors.New("no"))
	assert.Same(t, other, redactInvalid(other))
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
	r      *ManagedSecretReconciler
	events *msEvents
	now    time.Time
	writes []string // "verb kind/name"
}

func newMSFixture(t *testing.T, objs ...client.Object) *msFixture {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, syncv1.AddToScheme(s))
	f := &msFixture{t: t, events: &msEvents{}, now: msT0}
	record := func(verb string, obj client.Object) {
		f.writes = append(f.writes, fmt.Sprintf("%s %T/%s", verb, obj, obj.GetName()))
	}
	f.client = fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&syncv1.ManagedSecret{}).
		WithInterceptorFuncs(interceptor.Funcs{
			Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				record("create", obj)
				return c.Create(ctx, obj, opts...)
			},
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				record("update", obj)
				return c.Update(ctx, obj, opts...)
			},
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
				record("patch", obj)
				return c.Patch(ctx, obj, p, opts...)
			},
			SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
				record(sub+"-patch", obj)
				return c.SubResource(sub).Patch(ctx, obj, p, opts...)
			},
		}).Build()
	f.r = &ManagedSecretReconciler{Client: f.client, APIReader: f.client, Recorder: f.events, Now: func() time.Time { return f.now }}
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

func TestManagedSecretReconcile_CreatesRotatesOnScheduleAndOtherwiseWritesNothing(t *testing.T) {
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
	assert.Equal(t, []string{"Normal Rotated: Rotated the generated keys of Secret db as scheduled (rotation 1)"}, f.events.list())
}

func TestManagedSecretReconcile_AForeignSecretIsAConflictAndIsNeverWritten(t *testing.T) {
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

func TestManagedSecretReconcile_AnInvalidSpecStalls(t *testing.T) {
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

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func assertSameValues(t *testing.T, a, b *corev1.Secret, keys ...string) {
	t.Helper()
	for _, k := range keys {
		assert.Equal(t, a.Data[k], b.Data[k], "the value of %s changed", k)
	}
}
