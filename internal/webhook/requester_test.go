package webhook

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// updateBy returns the context of an update by user of old.
func updateBy(t *testing.T, user authenticationv1.UserInfo, old *syncv1.ConfigMapSync) context.Context {
	t.Helper()
	raw, err := json.Marshal(old)
	require.NoError(t, err)
	return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Update, UserInfo: user, OldObject: runtime.RawExtension{Raw: raw},
	}})
}

var (
	alice = authenticationv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"},
		Extra: map[string]authenticationv1.ExtraValue{"scopes": {"all"}}}
	bob = authenticationv1.UserInfo{Username: "bob", Groups: []string{"system:authenticated"}}
)

func TestRecordRequester_RecordsTheWholeIdentityOnCreate(t *testing.T) {
	cms := valid()
	cms.Annotations = map[string]string{RequestedByAnnotation: "mallory",
		access.RequestedByIdentityAnnotation: `{"username":"mallory","groups":["system:masters"]}`}
	ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, UserInfo: alice}})
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(ctx, cms))

	got, ok := access.RecordedRequester(cms)
	require.True(t, ok)
	assert.Equal(t, alice, got, "name, UID, groups and extra come from the request, not from what the user wrote")
	assert.Equal(t, "alice", cms.Annotations[RequestedByAnnotation])
}

func TestRecordRequester_KeepsTheRecordedIdentityWhenAnotherUserLeavesTheRequestAlone(t *testing.T) {
	old := valid()
	old.Annotations = map[string]string{RequestedByAnnotation: "alice", access.RequestedByIdentityAnnotation: access.EncodeIdentity(alice)}
	cms := old.DeepCopy()
	cms.Annotations[access.RequestedByIdentityAnnotation] = access.EncodeIdentity(authenticationv1.UserInfo{
		Username: "alice", Groups: []string{"system:masters"}}) // a forged identity for the recorded name
	cms.Labels = map[string]string{"edited": "by-bob"}
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(updateBy(t, bob, old), cms))
	got, ok := access.RecordedRequester(cms)
	require.True(t, ok)
	assert.Equal(t, alice, got)

	// A change of destinations is a new request: bob's identity replaces alice's.
	cms.Spec.Destination.Namespaces = []string{"team-b"}
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(updateBy(t, bob, old), cms))
	got, ok = access.RecordedRequester(cms)
	require.True(t, ok)
	assert.Equal(t, bob, got)
}

func TestRecordRequester_GivesAnOldObjectItsRequestersIdentityWhenThatUserEditsIt(t *testing.T) {
	old := valid()
	old.Annotations = map[string]string{RequestedByAnnotation: "alice"} // admitted before identities were recorded
	cms := old.DeepCopy()

	require.NoError(t, ConfigMapSyncDefaulter{}.Default(updateBy(t, bob, old), cms))
	_, ok := access.RecordedRequester(cms)
	assert.False(t, ok, "another user's edit records nobody's identity")
	assert.NotContains(t, cms.Annotations, access.RequestedByIdentityAnnotation)

	cms.Annotations[syncv1.SyncNowAnnotation] = "1"
	require.NoError(t, ConfigMapSyncDefaulter{}.Default(updateBy(t, alice, old), cms))
	got, ok := access.RecordedRequester(cms)
	require.True(t, ok)
	assert.Equal(t, alice, got)
}

func TestValidateUpdate_ValidatesASpecChangeOnAnObjectBeingDeleted(t *testing.T) {
	old := valid()
	old.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	old.Finalizers = []string{syncv1.Finalizer}
	v := ConfigMapSyncValidator{}

	// The controller removing its finalizer, even from an object stored invalid: nothing to validate.
	storedInvalid := old.DeepCopy()
	storedInvalid.Spec.SyncFrequency = "1ms"
	done := storedInvalid.DeepCopy()
	done.Finalizers = nil
	_, err := v.ValidateUpdate(context.Background(), storedInvalid, done)
	assert.NoError(t, err)

	changed := old.DeepCopy()
	changed.Spec.Destination.Namespaces = []string{"Not A Namespace"}
	_, err = v.ValidateUpdate(context.Background(), old, changed)
	require.Error(t, err, "a spec change on an object being deleted is validated like any other")
	assert.Contains(t, err.Error(), "spec.destination.namespaces[0]")
}
