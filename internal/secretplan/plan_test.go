package secretplan

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
func msPlan(t *testing.T, ms *syncv1.ManagedSecret, existing *corev1.Secret, now time.Time) Plan {
	t.Helper()
	p, err := Decide(ms, existing, now)
	require.NoError(t, err)
	return p
}

// msWritten returns the Secret as the API server would hold it after the plan's write.
func msWritten(p Plan) *corev1.Secret {
	s := p.Desired.DeepCopy()
	s.ResourceVersion = "written"
	return s
}

// --- planning --------------------------------------------------------------------------------------------------

func TestPlanSecret_GeneratesEveryKeyWithItsSettings(t *testing.T) {
	ms := newManagedSecret()
	p := msPlan(t, ms, nil, msT0)
	require.Equal(t, syncer.ActionCreate, p.Action)
	s := p.Desired
	assert.Equal(t, "db", s.Name, "secretName defaults to the ManagedSecret's name")
	assert.Equal(t, corev1.SecretTypeOpaque, s.Type)
	assert.Equal(t, "app", string(s.Data["username"]))
	assert.Len(t, s.Data["password"], 24)
	assert.Len(t, s.Data["api-key"], 32, "16 bytes in hex")
	assert.True(t, secretgen.IsUUIDv4(string(s.Data["id"])))
	assert.Len(t, s.Data, 4)
	assert.Equal(t, syncv1.ManagedByValue, s.Labels[syncv1.ManagedByLabel])
	assert.Equal(t, "ms-uid", s.Labels[syncv1.OwnerUIDLabel])
	assert.Equal(t, "team-a/db", s.Annotations[syncv1.OwnerAnnotation])
	assert.Equal(t, msT0.Format(time.RFC3339), s.Annotations[syncv1.LastRotationAnnotation])
	assert.Equal(t, "0", s.Annotations[syncv1.RotationCountAnnotation])
	var gens map[string]string
	require.NoError(t, json.Unmarshal([]byte(s.Annotations[syncv1.GeneratorsAnnotation]), &gens))
	assert.ElementsMatch(t, []string{"password", "api-key", "id"}, keysOf(gens), "literals have no generator")
	assert.True(t, p.Wake.IsZero(), "nothing to wake up for without an interval or .previous keys")
	assert.Nil(t, p.NextRotation)
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
	assert.Equal(t, syncer.ActionNone, again.Action)
	assert.Len(t, first.Desired.Data["p"], 32)
}

func TestPlanSecret_NothingChangedPlansNoWrite(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "24h"
	first := msPlan(t, ms, nil, msT0)
	again := msPlan(t, ms, msWritten(first), msT0.Add(23*time.Hour))
	assert.Equal(t, syncer.ActionNone, again.Action)
	assert.Equal(t, first.Desired.Data, again.Desired.Data)
	assert.Equal(t, msT0.Add(24*time.Hour), again.Wake, "wakes up when the rotation is due")
}

func TestPlanSecret_RotationIsDueOneIntervalAfterTheLast(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))

	early := msPlan(t, ms, created, msT0.Add(time.Hour-time.Second))
	assert.False(t, early.Rotated)
	assert.Equal(t, syncer.ActionNone, early.Action)
	assert.False(t, early.ValuesChanged)
	assert.False(t, msPlan(t, ms, nil, msT0).ValuesChanged, "a new Secret changes no value anyone read")
	assert.Equal(t, msT0.Add(time.Hour), *early.NextRotation)

	due := msPlan(t, ms, created, msT0.Add(time.Hour))
	require.True(t, due.Rotated)
	assert.True(t, due.ValuesChanged, "the workloads reading it may need a restart")
	assert.False(t, due.Requested)
	assert.Equal(t, syncer.ActionUpdate, due.Action)
	assert.Equal(t, int64(1), due.Record.Count)
	assert.Equal(t, msT0.Add(time.Hour), due.Record.LastRotation)
	assert.Equal(t, msT0.Add(2*time.Hour), due.Wake)
	assert.Equal(t, created.Data["username"], due.Desired.Data["username"], "literals are not rotated")
	for _, k := range []string{"password", "api-key", "id"} {
		assert.NotEqual(t, created.Data[k], due.Desired.Data[k], k)
	}
	assert.NotContains(t, due.Desired.Data, "password.previous", "no keepPrevious, no .previous")

	// Late (the operator was down): one rotation, and the schedule restarts from it.
	late := msPlan(t, ms, created, msT0.Add(5*time.Hour+30*time.Minute))
	assert.Equal(t, int64(1), late.Record.Count)
	assert.Equal(t, msT0.Add(6*time.Hour+30*time.Minute), late.Wake)
}

func TestPlanSecret_WithoutAnIntervalOnlyRequestsRotate(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))
	years := msPlan(t, ms, created, msT0.Add(10*365*24*time.Hour))
	assert.False(t, years.Rotated)
	assert.Equal(t, syncer.ActionNone, years.Action)
}

func TestPlanSecret_RotateNowRotatesOncePerNewValue(t *testing.T) {
	ms := newManagedSecret()
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "at-creation"}
	created := msPlan(t, ms, nil, msT0)
	assert.False(t, created.Rotated, "a request present at creation is taken as handled: the values are new")
	assert.Equal(t, "at-creation", created.Record.Request)
	assert.Equal(t, syncer.ActionNone, msPlan(t, ms, msWritten(created), msT0.Add(time.Minute)).Action)

	ms.Annotations[syncv1.RotateNowAnnotation] = "2026-03-01T13:00:00Z"
	asked := msPlan(t, ms, msWritten(created), msT0.Add(time.Hour))
	require.True(t, asked.Rotated)
	assert.True(t, asked.Requested)
	assert.Equal(t, int64(1), asked.Record.Count)
	assert.Equal(t, "2026-03-01T13:00:00Z", asked.Desired.Annotations[syncv1.RotationRequestAnnotation])
	assert.NotEqual(t, created.Desired.Data["password"], asked.Desired.Data["password"])

	again := msPlan(t, ms, msWritten(asked), msT0.Add(2*time.Hour))
	assert.False(t, again.Rotated, "the same request is handled once")
	assert.Equal(t, syncer.ActionNone, again.Action)

	delete(ms.Annotations, syncv1.RotateNowAnnotation)
	removed := msPlan(t, ms, msWritten(asked), msT0.Add(3*time.Hour))
	assert.Equal(t, syncer.ActionNone, removed.Action, "removing the annotation changes nothing")
	assert.Equal(t, "2026-03-01T13:00:00Z", removed.Record.Request)
}

func TestPlanSecret_KeepPreviousKeepsTheOldValuesUntilTheyExpire(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.RotationInterval = "24h"
	ms.Spec.KeepPrevious = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))
	assert.NotContains(t, created.Data, "password.previous", "nothing to keep before the first rotation")

	rotatedAt := msT0.Add(24 * time.Hour)
	rotated := msPlan(t, ms, created, rotatedAt)
	require.True(t, rotated.Rotated)
	for _, k := range []string{"password", "api-key", "id"} {
		assert.Equal(t, created.Data[k], rotated.Desired.Data[k+".previous"], k)
	}
	assert.NotContains(t, rotated.Desired.Data, "username.previous", "literals are not rotated")
	assert.Equal(t, rotatedAt.Add(time.Hour), *rotated.PreviousExpiry)
	assert.Equal(t, rotatedAt.Add(time.Hour), rotated.Wake, "the expiry comes before the next rotation")

	during := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(59*time.Minute))
	assert.Equal(t, syncer.ActionNone, during.Action)

	after := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(time.Hour))
	assert.Equal(t, syncer.ActionUpdate, after.Action)
	assert.NotContains(t, after.Desired.Data, "password.previous")
	assert.Nil(t, after.PreviousExpiry)
	assert.Equal(t, rotated.Desired.Data["password"], after.Desired.Data["password"], "the current value stays")
	assert.Equal(t, rotatedAt.Add(24*time.Hour), after.Wake)

	// A second rotation inside the window replaces the kept value with the one it replaces.
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "again"}
	second := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(10*time.Minute))
	assert.Equal(t, rotated.Desired.Data["password"], second.Desired.Data["password.previous"])

	// Unsetting keepPrevious removes the kept values at once.
	delete(ms.Annotations, syncv1.RotateNowAnnotation)
	ms.Spec.KeepPrevious = ""
	unset := msPlan(t, ms, msWritten(rotated), rotatedAt.Add(time.Minute))
	assert.NotContains(t, unset.Desired.Data, "password.previous")
}

func TestPlanSecret_SpecChangesTouchOnlyTheKeysConcerned(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))

	ms.Spec.Keys = append(ms.Spec.Keys, msRandom("pin", 6, syncv1.AlphabetNumeric))
	added := msPlan(t, ms, created, msT0.Add(time.Minute))
	assert.Equal(t, syncer.ActionUpdate, added.Action)
	assert.Len(t, added.Desired.Data["pin"], 6)
	assert.Equal(t, []string{"pin"}, added.Generated)
	assertSameValues(t, created, added.Desired, "username", "password", "api-key", "id")

	ms.Spec.Keys = ms.Spec.Keys[1:] // username goes
	removed := msPlan(t, ms, msWritten(added), msT0.Add(2*time.Minute))
	assert.NotContains(t, removed.Desired.Data, "username")
	assertSameValues(t, added.Desired, removed.Desired, "password", "api-key", "id", "pin")

	ms.Spec.Keys = append(ms.Spec.Keys, msLiteral("username", "app2"))
	literal := msPlan(t, ms, msWritten(removed), msT0.Add(3*time.Minute))
	assert.Equal(t, "app2", string(literal.Desired.Data["username"]))
	assert.Empty(t, literal.Generated)

	ms.Spec.Keys[0] = msRandom("password", 40, syncv1.AlphabetHex) // new settings for password
	changed := msPlan(t, ms, msWritten(literal), msT0.Add(4*time.Minute))
	assert.Equal(t, []string{"password"}, changed.Generated)
	assert.Len(t, changed.Desired.Data["password"], 40)
	assertSameValues(t, literal.Desired, changed.Desired, "api-key", "id", "pin", "username")
	assert.Equal(t, int64(0), changed.Record.Count, "new settings are not a rotation")
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
	assert.Equal(t, syncer.ActionUpdate, p.Action)
	assert.Len(t, p.Desired.Data["password"], 24)
	assert.True(t, secretgen.IsUUIDv4(string(p.Desired.Data["id"])))
	assert.NotContains(t, p.Desired.Data, "extra")
	assert.Equal(t, "app", string(p.Desired.Data["username"]))
	assert.Equal(t, created.Data["api-key"], p.Desired.Data["api-key"])
	assert.Equal(t, "payments", p.Desired.Labels["team"])
	assert.Equal(t, "kept", p.Desired.Annotations["example.com/note"])
	assert.ElementsMatch(t, []string{"password", "id"}, p.Generated)
}

func TestPlanSecret_AValueOfTheRightShapeIsKeptWhenTheRecordIsLost(t *testing.T) {
	ms := newManagedSecret()
	created := msWritten(msPlan(t, ms, nil, msT0))
	lost := created.DeepCopy()
	delete(lost.Annotations, syncv1.GeneratorsAnnotation)
	p := msPlan(t, ms, lost, msT0.Add(time.Minute))
	assert.Empty(t, p.Generated, "values that fit their settings are kept")
	assert.Equal(t, created.Data, p.Desired.Data)
	assert.Equal(t, syncer.ActionUpdate, p.Action, "the record is written back")

	// But a key whose record says it was a literal before is generated, even if the literal would fit.
	ms.Spec.Keys[0] = msRandom("username", 3, syncv1.AlphabetAlphanumeric)
	p = msPlan(t, ms, created, msT0.Add(time.Minute))
	assert.Equal(t, []string{"username"}, p.Generated)
}

func TestPlanSecret_TheRecordHoldsNoValue(t *testing.T) {
	ms := newManagedSecret()
	ms.Spec.KeepPrevious = "1h"
	created := msWritten(msPlan(t, ms, nil, msT0))
	ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "1"}
	rotated := msPlan(t, ms, created, msT0.Add(time.Minute))
	meta := fmt.Sprint(rotated.Desired.Labels, rotated.Desired.Annotations)
	for k, v := range rotated.Desired.Data {
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
			_, err := Decide(ms, nil, msT0)
			var invalid *syncer.InvalidSpecError
			require.ErrorAs(t, err, &invalid)
			assert.ErrorIs(t, err, reconcile.TerminalError(nil))
		})
	}
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

func TestPlanSecret_AKeysTypePicksItsGenerator(t *testing.T) {
	// Admitted without the webhook, a key with a type and several members means what the webhook would keep.
	ms := newManagedSecret()
	literal := "app"
	ms.Spec.Keys = []syncv1.ManagedSecretKey{
		{Name: "username", Type: syncv1.KeyTypeLiteral, Literal: &literal, Random: &syncv1.RandomStringGenerator{}},
		{Name: "password", Type: syncv1.KeyTypeRandom, Random: &syncv1.RandomStringGenerator{Length: 40}, Bytes: &syncv1.RandomBytesGenerator{Length: 8}},
		{Name: "id", Type: syncv1.KeyTypeUUID, Random: &syncv1.RandomStringGenerator{}, Bytes: &syncv1.RandomBytesGenerator{}},
	}
	s := msPlan(t, ms, nil, msT0).Desired
	assert.Equal(t, "app", string(s.Data["username"]))
	assert.Len(t, s.Data["password"], 40)
	assert.True(t, secretgen.IsUUIDv4(string(s.Data["id"])), "%q", s.Data["id"])

	ms.Spec.Keys[1].Literal = &literal
	_, err := Decide(ms, nil, msT0)
	var invalid *syncer.InvalidSpecError
	require.ErrorAs(t, err, &invalid)
	assert.Contains(t, err.Error(), "spec.keys[password].literal")
}
