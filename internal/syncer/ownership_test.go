package syncer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// signed returns a ConfigMap at namespace/name labelled for owner, carrying proof.
func signed(namespace, name string, owner types.UID, proof string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name,
		Labels:      map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: string(owner)},
		Annotations: map[string]string{syncv1.OwnershipProofAnnotation: proof},
	}}
}

func TestKeys_ProofVerifies(t *testing.T) {
	obj := signed("team-b", "settings", "uid-1", testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	assert.Equal(t, Proven, testKeys.Verify(obj, KindConfigMap))
	assert.True(t, strings.HasPrefix(obj.Annotations[syncv1.OwnershipProofAnnotation], testKeys.Current.ID+":"), "a proof names its key")
	assert.Equal(t, testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"), testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"),
		"deterministic: every replica signs alike")
}

func TestKeys_ProofBindsEveryFact(t *testing.T) {
	proof := testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings")
	tests := map[string]struct {
		obj  client.Object
		kind string
	}{
		"another owner UID": {signed("team-b", "settings", "uid-2", proof), KindConfigMap},
		"another namespace": {signed("team-c", "settings", "uid-1", proof), KindConfigMap},
		"another name":      {signed("team-b", "other", "uid-1", proof), KindConfigMap},
		"another kind":      {signed("team-b", "settings", "uid-1", proof), KindSecret},
		"no owner UID":      {signed("team-b", "settings", "", proof), KindConfigMap},
		"fields shifted":    {signed("team-", "bsettings", "uid-1", proof), KindConfigMap},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, Unproven, testKeys.Verify(tt.obj, tt.kind))
		})
	}
}

func TestKeys_WrongKeyProvesNothing(t *testing.T) {
	obj := signed("team-b", "settings", "uid-1", otherKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	assert.Equal(t, Unproven, testKeys.Verify(obj, KindConfigMap))
	assert.Equal(t, Proven, otherKeys.Verify(obj, KindConfigMap))

	// The right key ID in front of another key's MAC.
	_, sum, _ := strings.Cut(otherKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"), ":")
	obj.Annotations[syncv1.OwnershipProofAnnotation] = testKeys.Current.ID + ":" + sum
	assert.Equal(t, Unproven, testKeys.Verify(obj, KindConfigMap))
}

func TestKeys_ProofCopiedFromAnotherCopy(t *testing.T) {
	// A tenant reads a real copy in their namespace and puts its proof on an object elsewhere.
	real := signed("team-b", "settings", "uid-1", testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	for _, at := range []types.NamespacedName{{Namespace: "team-b", Name: "grab"}, {Namespace: "kube-system", Name: "settings"}} {
		forged := signed(at.Namespace, at.Name, "uid-1", real.Annotations[syncv1.OwnershipProofAnnotation])
		assert.Equal(t, Unproven, testKeys.Verify(forged, KindConfigMap), at.String())
	}
}

func TestKeys_Garbage(t *testing.T) {
	good := testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings")
	id, sum, _ := strings.Cut(good, ":")
	for _, proof := range []string{
		"", ":", "garbage", id, id + ":", sum, ":" + sum, // no key ID, or no MAC
		id + ":" + sum[:len(sum)-1], id + ":" + sum + "0", id + ":" + strings.ToUpper(sum), id + "0:" + sum,
		"other:" + sum, id + ":" + sum + ":" + sum, id + "::" + sum, " " + good, good + " ", "\x00" + good,
	} {
		obj := signed("team-b", "settings", "uid-1", proof)
		assert.Equal(t, Unproven, testKeys.Verify(obj, KindConfigMap), "%q", proof)
	}
	noAnnotation := signed("team-b", "settings", "uid-1", "")
	noAnnotation.Annotations = nil
	assert.Equal(t, Unproven, testKeys.Verify(noAnnotation, KindConfigMap))
}

func TestKeys_EmptyKeyProvesNothing(t *testing.T) {
	var none Keys
	obj := signed("team-b", "settings", "uid-1", none.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	assert.Equal(t, Unproven, none.Verify(obj, KindConfigMap), "an HMAC under an empty key is anyone's")
}

func TestKeys_PreviousKey(t *testing.T) {
	old := testKeys.Current
	rotated := Keys{Current: NewKey([]byte("the-key-after-the-rotation-0123")), Previous: &old}
	assert.NotEqual(t, old.ID, rotated.Current.ID)

	before := signed("team-b", "settings", "uid-1", testKeys.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	assert.Equal(t, ProvenByPrevious, rotated.Verify(before, KindConfigMap))
	after := signed("team-b", "settings", "uid-1", rotated.Proof("uid-1", KindConfigMap, "team-b", "settings"))
	assert.Equal(t, Proven, rotated.Verify(after, KindConfigMap))
	assert.Equal(t, Unproven, testKeys.Verify(after, KindConfigMap), "the old key does not accept the new one's proofs")
	assert.Equal(t, Unproven, Keys{Current: rotated.Current}.Verify(before, KindConfigMap), "the previous key, once dropped, proves nothing")

	forged := signed("team-c", "settings", "uid-1", before.Annotations[syncv1.OwnershipProofAnnotation])
	assert.Equal(t, Unproven, rotated.Verify(forged, KindConfigMap), "the previous key binds the same facts")
}

func TestNewKey(t *testing.T) {
	a, b := NewKey([]byte("key-a-0123456789")), NewKey([]byte("key-b-0123456789"))
	assert.Equal(t, a, NewKey([]byte("key-a-0123456789")))
	assert.NotEqual(t, a.ID, b.ID)
	assert.Regexp(t, "^[0-9a-f]{8}$", a.ID)
	assert.NotContains(t, a.ID, "key-a", "the ID tells nothing of the key")
}

// --- Plan and forged ownership --------------------------------------------------------------------------------

// forgery is one object a tenant made at a copy's destination, with some of the marks of a real copy.
type forgery struct {
	managedBy, ownerUID, ownerAnnotation, contentHash, proof, sameData bool
}

func (f forgery) String() string {
	return fmt.Sprintf("managedBy=%t ownerUID=%t owner=%t hash=%t proof=%t sameData=%t",
		f.managedBy, f.ownerUID, f.ownerAnnotation, f.contentHash, f.proof, f.sameData)
}

// claimsExactly reports whether the forgery carries what a copy written before proofs existed carries.
func (f forgery) claimsExactly() bool { return f.managedBy && f.ownerUID && f.ownerAnnotation }

// forgeries returns every combination of the marks a real copy carries, on an object at desired's destination. The
// proof is copied from the owner's real copy of the same source in another namespace, which the tenant can read.
func forgeries(t *testing.T, desired client.Object, elsewhere client.Object) map[forgery]client.Object {
	t.Helper()
	out := map[forgery]client.Object{}
	for bits := range 1 << 6 {
		f := forgery{bits&1 != 0, bits&2 != 0, bits&4 != 0, bits&8 != 0, bits&16 != 0, bits&32 != 0}
		obj := desired.DeepCopyObject().(*corev1.ConfigMap)
		obj.UID, obj.ResourceVersion = "forged-uid", "3"
		obj.Labels = map[string]string{"tenant": "mallory"}
		obj.Annotations = map[string]string{}
		if f.managedBy {
			obj.Labels[syncv1.ManagedByLabel] = syncv1.ManagedByValue
		}
		if f.ownerUID {
			obj.Labels[syncv1.OwnerUIDLabel] = string(testOwner.UID)
		}
		if f.ownerAnnotation {
			obj.Annotations[syncv1.OwnerAnnotation] = testOwner.String()
		}
		if f.contentHash {
			obj.Annotations[syncv1.ContentHashAnnotation] = desired.GetAnnotations()[syncv1.ContentHashAnnotation]
		}
		if f.proof {
			obj.Annotations[syncv1.OwnershipProofAnnotation] = elsewhere.GetAnnotations()[syncv1.OwnershipProofAnnotation]
		}
		if !f.sameData {
			obj.Data = map[string]string{"k": "the tenant's"}
		}
		out[f] = obj
	}
	return out
}

func TestPlan_ForgedOwnershipIsNeverWritten(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	content := mustContent(t, src)
	desired := Desired(src, content, "team-b", "settings", testOwner, testKeys)
	elsewhere := Desired(src, content, "team-c", "settings", testOwner, testKeys)
	is := assert.New(t)
	is.Equal(Proven, testKeys.Verify(elsewhere, KindConfigMap), "the copied proof is a real one")

	for f, obj := range forgeries(t, desired, elsewhere) {
		view := ViewOf(obj, testKeys)
		is.Equal(Unproven, view.Verdict, f.String())
		is.False(IsOwnedBy(view, testOwner), f.String())

		is.Equal(ActionConflict, Plan(view, desired, testOwner, PlanOptions{}), "Refuse: %s", f)

		adopt := Plan(view, desired, testOwner, PlanOptions{Adopt: true})
		if f.managedBy && f.ownerUID {
			is.Equal(ActionConflict, adopt, "an object claiming an owner is never adopted: %s", f)
		} else {
			is.Equal(ActionAdopt, adopt, "an object claiming no owner is adopted, as any foreign object: %s", f)
		}

		upgrade := Plan(view, desired, testOwner, PlanOptions{AcceptUnproven: true})
		if f.claimsExactly() {
			is.Equal(ActionUpdate, upgrade, "the upgrade window signs what claims the owner exactly: %s", f)
		} else {
			is.Equal(ActionConflict, upgrade, "the upgrade window accepts nothing else: %s", f)
		}
	}
}

func TestPlan_ProofOfTheOtherKindIsForged(t *testing.T) {
	src := cm(map[string]string{"k": "v"}, nil)
	desiredCM := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	ssrc := secret(corev1.SecretTypeOpaque, map[string][]byte{"k": []byte("v")})
	desiredSecret := Desired(ssrc, mustContent(t, ssrc), "team-b", "settings", testOwner, testKeys)

	// A Secret carrying the proof and marks of the ConfigMap copy of the same name.
	forged := desiredSecret.DeepCopyObject().(*corev1.Secret)
	forged.Annotations[syncv1.OwnershipProofAnnotation] = desiredCM.GetAnnotations()[syncv1.OwnershipProofAnnotation]
	assert.Equal(t, ActionConflict, Plan(viewOf(forged), desiredSecret, testOwner, PlanOptions{}))
	assert.Equal(t, ActionNone, Plan(viewOf(desiredSecret), desiredSecret, testOwner, PlanOptions{}))
}

func TestPlan_UnprovenIsNeverUpToDate(t *testing.T) {
	// In the upgrade window a copy written before proofs existed, identical otherwise, must be written once: the
	// write signs it.
	src := cm(map[string]string{"k": "v"}, nil)
	desired := Desired(src, mustContent(t, src), "team-b", "settings", testOwner, testKeys)
	legacy := desired.DeepCopyObject().(*corev1.ConfigMap)
	delete(legacy.Annotations, syncv1.OwnershipProofAnnotation)
	delete(legacy.Annotations, syncv1.SourceKeysAnnotation)
	assert.Equal(t, ActionUpdate, Plan(viewOf(legacy), desired, testOwner, PlanOptions{AcceptUnproven: true}))
	assert.Equal(t, ActionConflict, Plan(viewOf(legacy), desired, testOwner, PlanOptions{}), "outside the window")
	assert.Equal(t, ActionConflict, Plan(legacy, desired, testOwner, PlanOptions{}), "not a View")
}

func TestPlan_PreviousKeyIsResigned(t *testing.T) {
	old := testKeys.Current
	rotated := Keys{Current: NewKey([]byte("the-key-after-the-rotation-0123")), Previous: &old}
	src := cm(map[string]string{"k": "v"}, nil)
	content := mustContent(t, src)
	before := Desired(src, content, "team-b", "settings", testOwner, testKeys)
	desired := Desired(src, content, "team-b", "settings", testOwner, rotated)

	view := ViewOf(before, rotated)
	assert.Equal(t, ProvenByPrevious, view.Verdict)
	assert.True(t, IsOwnedBy(view, testOwner))
	assert.Equal(t, ActionUpdate, Plan(view, desired, testOwner, PlanOptions{}), "its next write signs it with the current key")
	assert.Equal(t, ActionNone, Plan(ViewOf(desired, rotated), desired, testOwner, PlanOptions{}))
}
