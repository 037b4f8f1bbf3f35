package v1beta1

import (
	"encoding/json"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/diff"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The fuzz targets below complement TestFuzz*IsLossless in configmapsync_conversion_test.go: those fill typed
// objects at random, these let `go test -fuzz` mutate the JSON the API server would hand the conversion webhook,
// so that byte-level oddities (empty strings, empty lists, unusual keys) are explored too. Their seed corpus
// (f.Add below and testdata/fuzz/) runs in every plain `go test`.

// FuzzConversionRoundTrip checks v1beta1 → v1 → v1beta1: every v1beta1 object the API server could hold comes back
// unchanged, and one that carries a conversion-data annotation of its own is normalised by the first trip and
// then stable.
func FuzzConversionRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"metadata":{"name":"s","namespace":"a"},"spec":{"sourceNamespace":"a","destinationNamespace":"b","configMapName":"c","syncFrequency":"5m","syncStrategy":"automatic"}}`,
		`{"metadata":{"name":"s"},"spec":{"sourceNamespace":"a","configMapName":"c","syncStrategy":"manual"},"status":{"lastSyncTime":"2026-01-02T03:04:05Z","syncStatus":"Synced"}}`,
		`{"spec":{}}`,
		`{"metadata":{"annotations":{"x":"y"},"labels":{"l":""}},"spec":{"destinationNamespace":""}}`,
		// What ConvertFrom writes for a v1 object with more than v1beta1 can say.
		`{"metadata":{"annotations":{"sync.configmapsync.io/conversion-data":"{\"spec\":{\"source\":{\"kind\":\"Secret\",\"name\":\"c\"},\"destination\":{\"namespaces\":[\"b\",\"c\"]},\"deletionPolicy\":\"Orphan\"}}"}},"spec":{"destinationNamespace":"b","configMapName":"c"}}`,
		// A stale annotation: the v1beta1 fields were edited after it was written.
		`{"metadata":{"annotations":{"sync.configmapsync.io/conversion-data":"{\"spec\":{\"destination\":{\"namespaces\":[\"b\"]}}}"}},"spec":{"destinationNamespace":""}}`,
		`{"metadata":{"annotations":{"sync.configmapsync.io/conversion-data":"{"}},"spec":{}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spoke := &ConfigMapSync{}
		if !decodeStored(data, spoke) || !spokeSchemaAllows(spoke) {
			t.Skip("not an object the API server could hold")
		}
		hub := &syncv1.ConfigMapSync{}
		if err := spoke.DeepCopy().ConvertTo(hub); err != nil {
			// Only a corrupt conversion-data annotation may fail, and the error must say which.
			if _, ok := spoke.Annotations[ConversionDataAnnotation]; !ok {
				t.Fatalf("v1beta1 -> v1 failed without a conversion-data annotation: %v", err)
			}
			return
		}
		back := &ConfigMapSync{}
		if err := back.ConvertFrom(hub.DeepCopy()); err != nil {
			t.Fatalf("v1 -> v1beta1 failed: %v", err)
		}
		if _, own := spoke.Annotations[ConversionDataAnnotation]; !own {
			if !apiequality.Semantic.DeepEqual(spoke, back) {
				t.Fatalf("v1beta1 -> v1 -> v1beta1 changed the object:\n%s", diff.Diff(spoke, back))
			}
			return
		}
		// A client may send back a stale annotation; after one trip the object must be a fixed point.
		hub2 := &syncv1.ConfigMapSync{}
		if err := back.DeepCopy().ConvertTo(hub2); err != nil {
			t.Fatalf("converting a converted object failed: %v", err)
		}
		if !apiequality.Semantic.DeepEqual(hub, hub2) {
			t.Fatalf("the second v1beta1 -> v1 changed the object:\n%s", diff.Diff(hub, hub2))
		}
		back2 := &ConfigMapSync{}
		if err := back2.ConvertFrom(hub2); err != nil {
			t.Fatalf("v1 -> v1beta1 failed: %v", err)
		}
		if !apiequality.Semantic.DeepEqual(back, back2) {
			t.Fatalf("the second v1 -> v1beta1 changed the object:\n%s", diff.Diff(back, back2))
		}
	})
}

// FuzzHubConversionRoundTrip checks v1 → v1beta1 → v1: whatever v1beta1 has no field for travels in the
// conversion-data annotation, so every v1 object the API server could hold comes back unchanged.
func FuzzHubConversionRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"metadata":{"name":"s","namespace":"a"},"spec":{"source":{"kind":"ConfigMap","namespace":"a","name":"c"},"destination":{"namespaces":["b"]},"syncFrequency":"5m","syncStrategy":"Automatic","deletionPolicy":"Delete"}}`,
		`{"spec":{"source":{"kind":"Secret","name":"c"},"destination":{"namespaces":["b","c"],"namespaceSelector":{"matchLabels":{"t":"w"}},"name":"n"},"deletionPolicy":"Orphan","rollout":{"enabled":true,"volumeMounts":"Restart","debounce":"1m"}}}`,
		`{"spec":{"source":{},"destination":{"namespaces":["","x"]}}}`,
		`{"spec":{"source":{},"destination":{"namespaces":[]}}}`,
		`{"spec":{"source":{"kind":"ConfigMap"},"destination":{}},"status":{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True","reason":"Synced","message":"","lastTransitionTime":"2026-01-02T03:04:05Z"}],"syncStatus":"Synced","desiredDestinations":2,"destinations":[{"namespace":"b","state":"Conflict","message":"m"}],"pendingRollouts":["b"],"lastHandledSyncRequest":"now"}}`,
		`{"spec":{"source":{"kind":""},"destination":{}},"status":{"lastSyncTime":"2026-01-02T03:04:05.5Z"}}`,
		// Found by tests/badinput: a corrupt annotation set through v1 made ConvertFrom fail, and with it every
		// v1beta1 list that held the object. A well-formed one must not survive either.
		`{"metadata":{"annotations":{"sync.configmapsync.io/conversion-data":"{"}},"spec":{"source":{"name":"c"},"destination":{"namespaces":["b"]}}}`,
		`{"metadata":{"annotations":{"a":"b","sync.configmapsync.io/conversion-data":"{\"spec\":{\"source\":{\"kind\":\"Secret\"},\"destination\":{\"namespaces\":[\"b\",\"x\"]}}}"}},"spec":{"source":{"name":"c"},"destination":{"namespaces":["b"]}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hub := &syncv1.ConfigMapSync{}
		if !decodeStored(data, hub) || !hubSchemaAllows(hub) {
			t.Skip("not an object the API server could hold")
		}
		spoke := &ConfigMapSync{}
		if err := spoke.ConvertFrom(hub.DeepCopy()); err != nil {
			t.Fatalf("v1 -> v1beta1 failed: %v", err)
		}
		back := &syncv1.ConfigMapSync{}
		if err := spoke.DeepCopy().ConvertTo(back); err != nil {
			t.Fatalf("v1beta1 -> v1 failed: %v", err)
		}
		// A conversion-data annotation set through v1 is not trusted and does not survive (the validating
		// webhook rejects it, but objects stored before that rule may hold one); everything else does.
		want := hub.DeepCopy()
		delete(want.Annotations, ConversionDataAnnotation)
		if !apiequality.Semantic.DeepEqual(want, back) {
			t.Fatalf("v1 -> v1beta1 -> v1 changed the object:\n%s", diff.Diff(want, back))
		}
	})
}

// decodeStored decodes data into obj the way the API server stores it: decoded, encoded and decoded again, so
// that what JSON cannot keep (sub-second times, say) is dropped before the round trip, as it is in etcd.
func decodeStored(data []byte, obj any) bool {
	if json.Unmarshal(data, obj) != nil {
		return false
	}
	stored, err := json.Marshal(obj)
	if err != nil {
		return false
	}
	return json.Unmarshal(stored, obj) == nil
}

// spokeSchemaAllows reports whether the v1beta1 schema accepts obj's enums (the filler of the typed fuzz tests
// draws from the same values). Other fields are carried as they are and need no check.
func spokeSchemaAllows(obj *ConfigMapSync) bool {
	switch obj.Spec.SyncStrategy {
	case "", SyncStrategyAutomatic, SyncStrategyManual:
		return true
	}
	return false
}

// hubSchemaAllows reports whether the v1 schema accepts obj's enums.
func hubSchemaAllows(obj *syncv1.ConfigMapSync) bool {
	s := obj.Spec
	return oneOf(s.SyncStrategy, "", syncv1.SyncStrategyAutomatic, syncv1.SyncStrategyManual) &&
		oneOf(s.Source.Kind, "", syncv1.SourceKindConfigMap, syncv1.SourceKindSecret) &&
		oneOf(s.DeletionPolicy, "", syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan)
}

func oneOf[T comparable](v T, allowed ...T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
