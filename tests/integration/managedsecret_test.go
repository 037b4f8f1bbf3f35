package integration

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/secretgen"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestAManagedSecretGeneratesEveryKindOfKey(t *testing.T) {
	ns := kit.NewNamespace(t, "msgen")
	ms := managedSecret(ns, "db",
		msLiteral("username", "app"),
		msKey("defaults", &syncv1.RandomStringGenerator{}),
		msKey("alphanumeric", &syncv1.RandomStringGenerator{Length: 24, Alphabet: syncv1.AlphabetAlphanumeric}),
		msKey("alphabetic", &syncv1.RandomStringGenerator{Length: 20, Alphabet: syncv1.AlphabetAlphabetic}),
		msKey("pin", &syncv1.RandomStringGenerator{Length: 6, Alphabet: syncv1.AlphabetNumeric}),
		msKey("hex", &syncv1.RandomStringGenerator{Length: 40, Alphabet: syncv1.AlphabetHex}),
		msKey("url-safe", &syncv1.RandomStringGenerator{Length: 43, Alphabet: syncv1.AlphabetBase64URL}),
		msKey("printable", &syncv1.RandomStringGenerator{Length: 64, Alphabet: syncv1.AlphabetPrintableWithoutQuotes}),
		msKey("bytes-default", &syncv1.RandomBytesGenerator{}),
		msKey("api-key", &syncv1.RandomBytesGenerator{Length: 32, Encoding: syncv1.BytesEncodingHex}),
		msKey("raw", &syncv1.RandomBytesGenerator{Length: 16, Encoding: syncv1.BytesEncodingRaw}),
		msKey("id", &syncv1.UUIDGenerator{}),
	)
	kit.Create(t, ms)
	msReady(t, ms)

	s := generatedSecret(t, ms)
	assert.Equal(t, corev1.SecretTypeOpaque, s.Type, "the type defaults to Opaque")
	assert.Len(t, s.Data, len(ms.Spec.Keys))
	assert.Equal(t, "app", string(s.Data["username"]))
	for key, want := range map[string]struct {
		alphabet string
		length   int
	}{
		"defaults":     {secretgen.Alphanumeric, 32}, // the schema's defaults
		"alphanumeric": {secretgen.Alphanumeric, 24},
		"alphabetic":   {secretgen.Alphabetic, 20},
		"pin":          {secretgen.Numeric, 6},
		"hex":          {secretgen.Hex, 40},
		"url-safe":     {secretgen.Base64URL, 43},
		"printable":    {secretgen.PrintableWithoutQuotes, 64},
	} {
		chars, _ := secretgen.AlphabetChars(want.alphabet)
		v := string(s.Data[key])
		assert.Len(t, v, want.length, key)
		assert.Empty(t, strings.Trim(v, chars), "%s has characters outside %s", key, want.alphabet)
	}
	raw, err := base64.StdEncoding.DecodeString(string(s.Data["bytes-default"]))
	require.NoError(t, err, "bytes default to base64")
	assert.Len(t, raw, 32, "and to 32 bytes")
	raw, err = hex.DecodeString(string(s.Data["api-key"]))
	require.NoError(t, err)
	assert.Len(t, raw, 32)
	assert.Len(t, s.Data["raw"], 16)
	assert.True(t, secretgen.IsUUIDv4(string(s.Data["id"])), "%q is not a v4 UUID", s.Data["id"])

	assert.Equal(t, syncv1.ManagedByValue, s.Labels[syncv1.ManagedByLabel])
	assert.Equal(t, string(ms.UID), s.Labels[syncv1.OwnerUIDLabel])
	assert.Equal(t, ns+"/db", s.Annotations[syncv1.OwnerAnnotation])

	assert.Equal(t, "db", ms.Status.SecretName)
	assert.Equal(t, int32(len(ms.Spec.Keys)), ms.Status.KeyCount)
	require.NotNil(t, ms.Status.LastRotationTime)
	assert.Nil(t, ms.Status.NextRotationTime, "no interval, no scheduled rotation")
	assert.Zero(t, ms.Status.RotationCount)
	assert.Contains(t, ms.Finalizers, syncv1.Finalizer)
	assertNoValueLeaks(t, ms, s)
}

func TestAManagedSecretCanNameItsSecretAndChooseItsType(t *testing.T) {
	ns := kit.NewNamespace(t, "mstype")
	ms := managedSecret(ns, "login", msLiteral("username", "admin"),
		msKey("password", &syncv1.RandomStringGenerator{Length: 20}))
	ms.Spec.SecretName = "admin-login"
	ms.Spec.Type = corev1.SecretTypeBasicAuth
	kit.Create(t, ms)
	msReady(t, ms)
	s := generatedSecret(t, ms)
	assert.Equal(t, "admin-login", s.Name)
	assert.Equal(t, corev1.SecretTypeBasicAuth, s.Type)
	assert.Len(t, s.Data["password"], 20)
	assert.True(t, kit.Absent(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "login"}}))
}

func TestRotateNowRotatesTheGeneratedKeysAndKeepsTheLiterals(t *testing.T) {
	ns := kit.NewNamespace(t, "msrot")
	ms := managedSecret(ns, "db", msLiteral("username", "app"),
		msKey("password", &syncv1.RandomStringGenerator{Length: 32}),
		msKey("api-key", &syncv1.RandomBytesGenerator{Length: 32, Encoding: syncv1.BytesEncodingHex}),
		msKey("id", &syncv1.UUIDGenerator{}))
	kit.Create(t, ms)
	msReady(t, ms)
	old := generatedSecret(t, ms)
	firstRotation := ms.Status.LastRotationTime.Time
	rotationsBefore := testutil.ToFloat64(metrics.Rotations)

	update(t, ms, func() { ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "2026-11-25T12:00:00Z"} })
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		assert.Equal(c, int64(1), ms.Status.RotationCount)
		assert.Equal(c, "2026-11-25T12:00:00Z", ms.Status.LastHandledRotationRequest)
	})
	rotated := generatedSecret(t, ms)
	assert.Equal(t, "app", string(rotated.Data["username"]), "literals are not rotated")
	for _, k := range []string{"password", "api-key", "id"} {
		assert.NotEqual(t, old.Data[k], rotated.Data[k], "%s was not rotated", k)
	}
	assert.Len(t, rotated.Data["password"], 32)
	assert.True(t, secretgen.IsUUIDv4(string(rotated.Data["id"])))
	assert.NotContains(t, rotated.Data, "password.previous", "without keepPrevious nothing is kept")
	assert.False(t, ms.Status.LastRotationTime.Time.Before(firstRotation))
	assert.True(t, msHasEvent(t, ms, syncv1.EventReasonRotated))
	assert.GreaterOrEqual(t, testutil.ToFloat64(metrics.Rotations), rotationsBefore+1, "managedsecret_rotations_total")

	// The same request again is not a new one: nothing is rotated.
	time.Sleep(time.Second)
	update(t, ms, func() { ms.Annotations["unrelated"] = "touch" })
	time.Sleep(time.Second)
	again := generatedSecret(t, ms)
	assert.Equal(t, rotated.ResourceVersion, again.ResourceVersion)
	assertNoValueLeaks(t, ms, old, rotated)
}

func TestTheNextRotationIsOneIntervalAfterTheLast(t *testing.T) {
	ns := kit.NewNamespace(t, "msint")
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{}))
	ms.Spec.RotationInterval = "720h"
	kit.Create(t, ms)
	msReady(t, ms)
	require.NotNil(t, ms.Status.LastRotationTime)
	require.NotNil(t, ms.Status.NextRotationTime)
	assert.Equal(t, ms.Status.LastRotationTime.Add(720*time.Hour).UTC(), ms.Status.NextRotationTime.UTC())
	// The gauge is the earliest next rotation of all ManagedSecrets (other tests' ones too): set, and no later.
	earliest := testutil.ToFloat64(metrics.NextRotation)
	assert.Positive(t, earliest, "managedsecret_next_rotation_timestamp_seconds")
	assert.LessOrEqual(t, earliest, float64(ms.Status.NextRotationTime.Unix()), "managedsecret_next_rotation_timestamp_seconds")
	s := generatedSecret(t, ms)
	assert.Equal(t, ms.Status.LastRotationTime.UTC().Format(time.RFC3339), s.Annotations[syncv1.LastRotationAnnotation],
		"the Secret carries the record the status mirrors")

	// A rotation on request restarts the schedule.
	update(t, ms, func() { ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "now"} })
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		if assert.Equal(c, int64(1), ms.Status.RotationCount) && assert.NotNil(c, ms.Status.NextRotationTime) {
			assert.Equal(c, ms.Status.LastRotationTime.Add(720*time.Hour).UTC(), ms.Status.NextRotationTime.UTC())
		}
	})
}

func TestKeepPreviousKeepsTheOldValuesAndThenRemovesThem(t *testing.T) {
	ns := kit.NewNamespace(t, "msprev")
	ms := managedSecret(ns, "db", msLiteral("username", "app"),
		msKey("password", &syncv1.RandomStringGenerator{}),
		msKey("api-key", &syncv1.RandomBytesGenerator{Encoding: syncv1.BytesEncodingHex}))
	ms.Spec.KeepPrevious = "1h"
	kit.Create(t, ms)
	msReady(t, ms)
	old := generatedSecret(t, ms)
	assert.NotContains(t, old.Data, "password.previous", "nothing to keep before the first rotation")

	update(t, ms, func() { ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: "1"} })
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		assert.Equal(c, int64(1), ms.Status.RotationCount)
	})
	rotated := generatedSecret(t, ms)
	assert.Equal(t, old.Data["password"], rotated.Data["password.previous"])
	assert.Equal(t, old.Data["api-key"], rotated.Data["api-key.previous"])
	assert.NotEqual(t, old.Data["password"], rotated.Data["password"])
	assert.NotContains(t, rotated.Data, "username.previous", "literals are not rotated")
	require.NotNil(t, ms.Status.PreviousExpiryTime)
	assert.Equal(t, ms.Status.LastRotationTime.Add(time.Hour).UTC(), ms.Status.PreviousExpiryTime.UTC())
	assertNoValueLeaks(t, ms, old, rotated)

	// A shorter keepPrevious ends the window early; the operator wakes up at its end and removes the old values.
	update(t, ms, func() { ms.Spec.KeepPrevious = "3s" })
	harness.Eventually(t, k8s, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}}, func(c *assert.CollectT, s *corev1.Secret) {
		assert.NotContains(c, s.Data, "password.previous")
		assert.NotContains(c, s.Data, "api-key.previous")
		assert.Equal(c, rotated.Data["password"], s.Data["password"], "the current values stay")
	})
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		assert.Nil(c, ms.Status.PreviousExpiryTime)
	})
}

func TestKeysAddedRemovedOrChangedInTheSpecTouchOnlyThoseKeys(t *testing.T) {
	ns := kit.NewNamespace(t, "mskeys")
	ms := managedSecret(ns, "db", msLiteral("username", "app"),
		msKey("password", &syncv1.RandomStringGenerator{Length: 24}),
		msKey("id", &syncv1.UUIDGenerator{}))
	kit.Create(t, ms)
	msReady(t, ms)
	first := generatedSecret(t, ms)

	// Nothing changed: wake-ups write nothing, to the Secret or the status.
	time.Sleep(time.Second)
	before := len(writesIn(ns))
	for i := range 3 {
		update(t, ms, func() {
			if ms.Annotations == nil {
				ms.Annotations = map[string]string{}
			}
			ms.Annotations["touched"] = fmt.Sprint(i)
		})
	}
	time.Sleep(2 * time.Second)
	after := writesIn(ns)
	assert.Len(t, after, before, "writes while nothing changed: %v", after[before:])

	update(t, ms, func() {
		ms.Spec.Keys = append(ms.Spec.Keys, msKey("pin", &syncv1.RandomStringGenerator{Length: 6, Alphabet: syncv1.AlphabetNumeric}))
	})
	s := waitForSecret(t, ms, func(c *assert.CollectT, s *corev1.Secret) { assert.Len(c, s.Data["pin"], 6) })
	assertSameKeys(t, first, s, "username", "password", "id")

	update(t, ms, func() {
		ms.Spec.Keys = slices.DeleteFunc(ms.Spec.Keys, func(k syncv1.ManagedSecretKey) bool { return k.Name == "id" })
	})
	s2 := waitForSecret(t, ms, func(c *assert.CollectT, s *corev1.Secret) { assert.NotContains(c, s.Data, "id") })
	assertSameKeys(t, s, s2, "username", "password", "pin")

	update(t, ms, func() { ms.Spec.Keys[0] = msLiteral("username", "app-v2") })
	s3 := waitForSecret(t, ms, func(c *assert.CollectT, s *corev1.Secret) { assert.Equal(c, "app-v2", string(s.Data["username"])) })
	assertSameKeys(t, s2, s3, "password", "pin")

	update(t, ms, func() {
		ms.Spec.Keys[1] = msKey("password", &syncv1.RandomStringGenerator{Length: 48, Alphabet: syncv1.AlphabetHex})
	})
	s4 := waitForSecret(t, ms, func(c *assert.CollectT, s *corev1.Secret) { assert.Len(c, s.Data["password"], 48) })
	assertSameKeys(t, s3, s4, "username", "pin")
	msReady(t, ms)
	assert.Zero(t, ms.Status.RotationCount, "spec changes are not rotations")
	assert.Equal(t, int32(3), ms.Status.KeyCount)
	assertNoValueLeaks(t, ms, first, s, s2, s3, s4)
}

func TestAGeneratedSecretEditedOrDeletedByHandIsRepaired(t *testing.T) {
	ns := kit.NewNamespace(t, "msfix")
	ms := managedSecret(ns, "db", msLiteral("username", "app"), msKey("password", &syncv1.RandomStringGenerator{Length: 24}))
	kit.Create(t, ms)
	msReady(t, ms)
	s := generatedSecret(t, ms)

	update(t, s, func() {
		s.Data["username"] = []byte("intruder")
		s.Data["extra"] = []byte("x")
	})
	waitForSecret(t, ms, func(c *assert.CollectT, got *corev1.Secret) {
		assert.Equal(c, "app", string(got.Data["username"]))
		assert.NotContains(c, got.Data, "extra")
	})

	deleteAndWait(t, s)
	waitForSecret(t, ms, func(c *assert.CollectT, got *corev1.Secret) { assert.Len(c, got.Data["password"], 24) })
}

func TestAForeignSecretIsNeverModifiedAndTheSecretIsGeneratedOnceItIsGone(t *testing.T) {
	ns := kit.NewNamespace(t, "msconf")
	theirs := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, StringData: map[string]string{"password": "theirs"}}
	kit.Create(t, theirs)
	rv := theirs.ResourceVersion
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{}))
	conflictsBefore := testutil.ToFloat64(metrics.ManagedSecretFailures.WithLabelValues(syncv1.ReasonConflict))
	kit.Create(t, ms)
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		cond := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, metav1.ConditionFalse, cond.Status)
			assert.Equal(c, syncv1.ReasonConflict, cond.Reason)
		}
	})
	assert.True(t, msHasEvent(t, ms, syncv1.ReasonConflict))
	assert.Greater(t, testutil.ToFloat64(metrics.ManagedSecretFailures.WithLabelValues(syncv1.ReasonConflict)), conflictsBefore,
		"managedsecret_failures_total{reason=Conflict}")
	time.Sleep(time.Second)
	got := &corev1.Secret{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(theirs), got))
	assert.Equal(t, rv, got.ResourceVersion, "the foreign Secret was modified")
	assert.Equal(t, "theirs", string(got.Data["password"]))
	assert.Empty(t, got.Labels)

	deleteAndWait(t, theirs)
	msReady(t, ms)
	s := generatedSecret(t, ms)
	assert.Len(t, s.Data["password"], 32)
	assert.Equal(t, string(ms.UID), s.Labels[syncv1.OwnerUIDLabel])
}

func TestTwoManagedSecretsCannotShareASecret(t *testing.T) {
	ns := kit.NewNamespace(t, "msshare")
	first := managedSecret(ns, "first", msKey("password", &syncv1.RandomStringGenerator{}))
	first.Spec.SecretName = "shared"
	kit.Create(t, first)
	msReady(t, first)
	s := generatedSecret(t, first)

	second := managedSecret(ns, "second", msKey("token", &syncv1.UUIDGenerator{}))
	second.Spec.SecretName = "shared"
	kit.Create(t, second)
	harness.Eventually(t, k8s, second, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		cond := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, syncv1.ReasonConflict, cond.Reason)
		}
	})
	time.Sleep(time.Second)
	assert.Equal(t, s.ResourceVersion, generatedSecret(t, first).ResourceVersion)

	// When the second goes, its cleanup leaves the first's Secret alone.
	deleteAndWait(t, second)
	assert.Equal(t, s.ResourceVersion, generatedSecret(t, first).ResourceVersion)
}

func TestAnInvalidSecretForItsTypeStallsWithoutQuotingValues(t *testing.T) {
	ns := kit.NewNamespace(t, "msstall")
	ms := managedSecret(ns, "registry", msKey(".dockerconfigjson", &syncv1.RandomStringGenerator{Length: 16}))
	ms.Spec.Type = corev1.SecretTypeDockerConfigJson
	kit.Create(t, ms)
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		stalled := meta.FindStatusCondition(ms.Status.Conditions, syncv1.StalledCondition)
		if assert.NotNil(c, stalled) {
			assert.Equal(c, metav1.ConditionTrue, stalled.Status)
			assert.Equal(c, syncv1.ReasonPermanentFailure, stalled.Reason)
			assert.Contains(c, stalled.Message, "data[.dockerconfigjson]: FieldValueInvalid")
			// The API server's own message quotes the first character of the value that is not JSON.
			assert.NotContains(c, stalled.Message, "invalid character")
		}
		assert.Equal(c, ms.Generation, ms.Status.ObservedGeneration)
	})
	assert.True(t, msHasEvent(t, ms, syncv1.ReasonPermanentFailure))
	assert.True(t, kit.Absent(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "registry"}}))
}

func TestDeletingAManagedSecretDeletesItsSecret(t *testing.T) {
	ns := kit.NewNamespace(t, "msdel")
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{}))
	kit.Create(t, ms)
	msReady(t, ms)
	s := generatedSecret(t, ms)

	deleteAndWait(t, ms)
	assert.True(t, kit.Absent(t, s), "the Secret must not outlive its ManagedSecret")
}

func TestTheOrphanPolicyReleasesTheGeneratedSecret(t *testing.T) {
	ns := kit.NewNamespace(t, "msorphan")
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{}))
	ms.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan
	kit.Create(t, ms)
	msReady(t, ms)
	s := generatedSecret(t, ms)

	deleteAndWait(t, ms)
	kept := &corev1.Secret{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(s), kept))
	assert.Equal(t, s.Data["password"], kept.Data["password"])
	assert.NotContains(t, kept.Labels, syncv1.ManagedByLabel)
	assert.NotContains(t, kept.Labels, syncv1.OwnerUIDLabel)
	assert.NotContains(t, kept.Annotations, syncv1.OwnerAnnotation)
	assert.NotContains(t, kept.Annotations, syncv1.GeneratorsAnnotation)
}

func TestTheSchemaRejectsInvalidManagedSecrets(t *testing.T) {
	ns := kit.NewNamespace(t, "msval")
	password := msKey("password", &syncv1.RandomStringGenerator{})
	tooMany := make([]syncv1.ManagedSecretKey, 65)
	for i := range tooMany {
		tooMany[i] = msLiteral(fmt.Sprintf("k%d", i), "v")
	}
	for name, tc := range map[string]struct {
		mutate  func(*syncv1.ManagedSecret)
		message string
	}{
		"a key without a source": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{{Name: "x"}}
		}, "exactly one of random, bytes, uuid or literal"},
		"a key with two sources": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{{Name: "x", UUID: &syncv1.UUIDGenerator{}, Random: &syncv1.RandomStringGenerator{}}}
		}, "exactly one of random, bytes, uuid or literal"},
		"a reserved key name": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{msLiteral("password.previous", "x")}
		}, "reserved"},
		"an invalid key name": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{msLiteral("a/b", "x")}
		}, "spec.keys[0].name"},
		"a duplicate key": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{password, password}
		}, "Duplicate value"},
		"no keys":       {func(ms *syncv1.ManagedSecret) { ms.Spec.Keys = nil }, "spec.keys"},
		"too many keys": {func(ms *syncv1.ManagedSecret) { ms.Spec.Keys = tooMany }, "spec.keys"},
		"a negative length": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{msKey("x", &syncv1.RandomBytesGenerator{Length: -1})}
		}, "spec.keys[0].bytes.length"},
		"a length over 4096": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{msKey("x", &syncv1.RandomStringGenerator{Length: 4097})}
		}, "spec.keys[0].random.length"},
		"an unknown alphabet": {func(ms *syncv1.ManagedSecret) {
			ms.Spec.Keys = []syncv1.ManagedSecretKey{msKey("x", &syncv1.RandomStringGenerator{Alphabet: "Emoji"})}
		}, "spec.keys[0].random.alphabet"},
		"a rotation interval under 1m": {func(ms *syncv1.ManagedSecret) { ms.Spec.RotationInterval = "30s" },
			"must be a duration between 1m and 8760h"},
		"a rotation interval over a year": {func(ms *syncv1.ManagedSecret) { ms.Spec.RotationInterval = "8761h" },
			"must be a duration between 1m and 8760h"},
		"a rotation interval that is no duration": {func(ms *syncv1.ManagedSecret) { ms.Spec.RotationInterval = "monthly" },
			"spec.rotationInterval"},
		"a keepPrevious of zero": {func(ms *syncv1.ManagedSecret) { ms.Spec.KeepPrevious = "0s" },
			"must be a duration between 1s and 8760h"},
		"a service account token type": {func(ms *syncv1.ManagedSecret) { ms.Spec.Type = corev1.SecretTypeServiceAccountToken },
			"service account token"},
	} {
		t.Run(name, func(t *testing.T) {
			ms := managedSecret(ns, "invalid", password)
			tc.mutate(ms)
			err := k8s.Create(context.Background(), ms)
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "%v", err)
			assert.Contains(t, err.Error(), tc.message)
		})
	}

	t.Run("secretName and type cannot change", func(t *testing.T) {
		ms := managedSecret(ns, "fixed", password)
		kit.Create(t, ms)
		for field, mutate := range map[string]func(){
			"secretName": func() { ms.Spec.SecretName = "other" },
			"type":       func() { ms.Spec.Type = corev1.SecretTypeBasicAuth },
		} {
			err := tryUpdate(ms, mutate)
			require.Error(t, err, field)
			assert.Contains(t, err.Error(), field+" is immutable")
		}
	})
}

func TestAKeysTypeLetsAFormThatWritesEveryDefaultCreateAManagedSecret(t *testing.T) {
	ns := kit.NewNamespace(t, "msform")
	// Every key as the OpenShift console's form sends it: each generator's schema defaults, plus the type picked.
	formKey := func(name string, typ syncv1.KeyType) syncv1.ManagedSecretKey {
		return syncv1.ManagedSecretKey{Name: name, Type: typ,
			Random: &syncv1.RandomStringGenerator{Length: 32, Alphabet: syncv1.AlphabetAlphanumeric},
			Bytes:  &syncv1.RandomBytesGenerator{Length: 32, Encoding: syncv1.BytesEncodingBase64}}
	}
	user := formKey("username", syncv1.KeyTypeLiteral)
	user.Literal = new("app")
	password := formKey("password", syncv1.KeyTypeRandom)
	password.Random.Length = 40
	ms := managedSecret(ns, "db", user, password, formKey("api-key", syncv1.KeyTypeBytes), formKey("id", syncv1.KeyTypeUUID))
	kit.Create(t, ms)

	stored := ms.Spec.Keys // Create read back what the API server stored, after the webhook
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "username", Type: syncv1.KeyTypeLiteral, Literal: new("app")}, stored[0])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "password", Type: syncv1.KeyTypeRandom,
		Random: &syncv1.RandomStringGenerator{Length: 40, Alphabet: syncv1.AlphabetAlphanumeric}}, stored[1])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "api-key", Type: syncv1.KeyTypeBytes,
		Bytes: &syncv1.RandomBytesGenerator{Length: 32, Encoding: syncv1.BytesEncodingBase64}}, stored[2])
	assert.Equal(t, syncv1.ManagedSecretKey{Name: "id", Type: syncv1.KeyTypeUUID, UUID: &syncv1.UUIDGenerator{}}, stored[3])

	msReady(t, ms)
	s := generatedSecret(t, ms)
	assert.Equal(t, "app", string(s.Data["username"]))
	assert.Len(t, s.Data["password"], 40)
	raw, err := base64.StdEncoding.DecodeString(string(s.Data["api-key"]))
	require.NoError(t, err)
	assert.Len(t, raw, 32)
	assert.True(t, secretgen.IsUUIDv4(string(s.Data["id"])), "%q is not a v4 UUID", s.Data["id"])
	assertNoValueLeaks(t, ms, s)

	for name, tc := range map[string]struct {
		key     syncv1.ManagedSecretKey
		message string
	}{
		"the same key without a type": {formKey("x", ""), "exactly one of random, bytes, uuid or literal"},
		"a generator's type over a literal": {func() syncv1.ManagedSecretKey {
			k := formKey("x", syncv1.KeyTypeRandom)
			k.Literal = new("typed-by-hand")
			return k
		}(), "spec.keys[0].literal: Forbidden: type is Random"},
		"type Literal without a literal": {formKey("x", syncv1.KeyTypeLiteral), "spec.keys[0].literal: Required value: type is Literal"},
		"an unknown type":                {formKey("x", "Password"), "spec.keys[0].type: Unsupported value"},
	} {
		t.Run(name, func(t *testing.T) {
			err := k8s.Create(context.Background(), managedSecret(ns, "refused", tc.key))
			require.Error(t, err)
			assert.True(t, apierrors.IsInvalid(err), "%v", err)
			assert.Contains(t, err.Error(), tc.message)
			assert.NotContains(t, err.Error(), "typed-by-hand", "the error quotes no literal")
		})
	}
}

// --- helpers -----------------------------------------------------------------------------------------------------

func managedSecret(namespace, name string, keys ...syncv1.ManagedSecretKey) *syncv1.ManagedSecret {
	return &syncv1.ManagedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       syncv1.ManagedSecretSpec{Keys: keys},
	}
}

func msLiteral(name, value string) syncv1.ManagedSecretKey {
	return syncv1.ManagedSecretKey{Name: name, Literal: &value}
}

// msKey returns a key generated by g: a *RandomStringGenerator, *RandomBytesGenerator or *UUIDGenerator.
func msKey(name string, g any) syncv1.ManagedSecretKey {
	k := syncv1.ManagedSecretKey{Name: name}
	switch g := g.(type) {
	case *syncv1.RandomStringGenerator:
		k.Random = g
	case *syncv1.RandomBytesGenerator:
		k.Bytes = g
	case *syncv1.UUIDGenerator:
		k.UUID = g
	default:
		panic(fmt.Sprintf("not a generator: %T", g))
	}
	return k
}

// msReady waits until ms reports Ready=True for its current generation.
func msReady(t *testing.T, ms *syncv1.ManagedSecret) {
	t.Helper()
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		cond := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, cond) {
			assert.Equal(c, metav1.ConditionTrue, cond.Status, cond.Message)
			assert.Equal(c, ms.Generation, cond.ObservedGeneration)
		}
		assert.Equal(c, ms.Generation, ms.Status.ObservedGeneration)
	})
}

// generatedSecret returns the Secret ms generated.
func generatedSecret(t *testing.T, ms *syncv1.ManagedSecret) *corev1.Secret {
	t.Helper()
	name := ms.Spec.SecretName
	if name == "" {
		name = ms.Name
	}
	s := &corev1.Secret{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ms.Namespace, Name: name}, s))
	return s
}

// waitForSecret waits until the Secret of ms passes check, and returns it.
func waitForSecret(t *testing.T, ms *syncv1.ManagedSecret, check func(c *assert.CollectT, s *corev1.Secret)) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: ms.Name}}
	if ms.Spec.SecretName != "" {
		s.Name = ms.Spec.SecretName
	}
	harness.Eventually(t, k8s, s, check)
	return s
}

func assertSameKeys(t *testing.T, a, b *corev1.Secret, keys ...string) {
	t.Helper()
	for _, k := range keys {
		assert.Equal(t, a.Data[k], b.Data[k], "the value of %s changed", k)
	}
}

// assertNoValueLeaks checks that no generated value of the given Secrets appears in the ManagedSecret's status,
// in the Secrets' metadata, or in the events about it.
func assertNoValueLeaks(t *testing.T, ms *syncv1.ManagedSecret, secrets ...*corev1.Secret) {
	t.Helper()
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(ms), ms))
	status, err := json.Marshal(ms.Status)
	require.NoError(t, err)
	events := &eventsv1.EventList{}
	require.NoError(t, k8s.List(context.Background(), events, client.InNamespace(ms.Namespace)))
	var notes strings.Builder
	for _, e := range events.Items {
		notes.WriteString(e.Note + "\n")
	}
	literals := map[string]bool{}
	for _, k := range ms.Spec.Keys {
		if k.Literal != nil {
			literals[k.Name] = true
		}
	}
	for _, s := range secrets {
		metadata, err := json.Marshal(s.ObjectMeta)
		require.NoError(t, err)
		for k, v := range s.Data {
			if literals[k] || len(v) < 6 {
				continue // literals are in the spec; very short values could match by chance
			}
			for where, text := range map[string]string{"status": string(status), "Secret metadata": string(metadata), "events": notes.String()} {
				assert.NotContains(t, text, string(v), "the value of %s is in the %s", k, where)
				assert.NotContains(t, text, base64.StdEncoding.EncodeToString(v), "the value of %s (base64) is in the %s", k, where)
			}
		}
	}
}

// msHasEvent waits until an event with reason is recorded for ms, and reports whether one was.
func msHasEvent(t *testing.T, ms *syncv1.ManagedSecret, reason string) bool {
	t.Helper()
	return assert.EventuallyWithT(t, func(c *assert.CollectT) {
		list := &eventsv1.EventList{}
		if !assert.NoError(c, k8s.List(context.Background(), list, client.InNamespace(ms.Namespace))) {
			return
		}
		assert.True(c, slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
			return e.Regarding.Kind == "ManagedSecret" && e.Regarding.Name == ms.Name && e.Reason == reason
		}), "event %s for %s", reason, ms.Name)
	}, waitFor, tick)
}
