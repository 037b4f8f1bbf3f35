package adversarial

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestForgedOwnershipNeverDeletesOrWritesAnotherTenantsConfigMap: bob, who may only patch some ConfigMaps of
// alice's, labels them as copies of his own ConfigMapSyncs, with every combination of the operator's labels and
// annotations, values copied from his real copies. Whatever his ConfigMapSyncs then do (a sync on request, a
// source change, deletion with either policy), the operator never deletes or writes alice's ConfigMaps: it would
// be using its rights to do what bob cannot.
func TestForgedOwnershipNeverDeletesOrWritesAnotherTenantsConfigMap(t *testing.T) {
	t.Parallel()
	a1, b1 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "b1")
	alice, bob := newTenant(t, "alice", a1), newTenant(t, "bob", b1)

	harness.Create(t, bob, harness.ConfigMap(b1, "bob-src", map[string]string{"k": "v1"}))
	syncs := map[syncv1.DeletionPolicy]*syncv1.ConfigMapSync{}
	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		cms := newSync(b1, "bob-"+lower(policy), "bob-src", "bob-copy-"+lower(policy), b1)
		cms.Spec.DeletionPolicy = policy
		harness.Create(t, bob, cms)
		harness.Ready(t, admin, cms)
		syncs[policy] = cms
	}

	// Alice's ConfigMaps, one per forgery and claimed owner; bob may patch exactly these.
	type victim struct {
		policy syncv1.DeletionPolicy
		forged forgery
		cm     *corev1.ConfigMap
	}
	forgeries := everyForgery()
	victims := make([]victim, 0, 2*len(forgeries))
	names := make([]string, 0, 2*len(forgeries))
	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		for i, f := range forgeries {
			cm := harness.ConfigMap(a1, fmt.Sprintf("alice-%s-%02d", lower(policy), i), map[string]string{"alice": "data"})
			harness.Create(t, alice, cm)
			victims = append(victims, victim{policy: policy, forged: f, cm: cm})
			names = append(names, cm.Name)
		}
	}
	grantNamed(t, bob.name, a1, "configmaps", names, "patch")

	claims := map[syncv1.DeletionPolicy]claim{}
	for policy, cms := range syncs {
		own := &corev1.ConfigMap{} // bob can read his own copies
		require.NoError(t, bob.Get(context.Background(), types.NamespacedName{Namespace: b1, Name: cms.Spec.Destination.Name}, own))
		claims[policy] = claimFrom(own)
	}
	snapshots := make([]snapshot, 0, len(victims))
	for _, v := range victims {
		labels, annotations := v.forged.metadata(claims[v.policy])
		target := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: a1, Name: v.cm.Name}}
		mergePatch(t, bob, target, labels, annotations)
		snapshots = append(snapshots, snapshotOf(fmt.Sprintf("%s, claiming %s", v.forged, syncs[v.policy].Name), target))
	}
	reported := map[types.NamespacedName]bool{}
	newCM := func() client.Object { return &corev1.ConfigMap{} }
	untouched(t, "after bob labelled them", newCM, snapshots, reported)
	assertUnprovenReported(t, syncs[syncv1.DeletionPolicyDelete], syncs[syncv1.DeletionPolicyOrphan])

	for _, cms := range syncs {
		requestSync(t, bob, cms)
	}
	untouched(t, "after a sync on request", newCM, snapshots, reported)

	src := harness.ConfigMap(b1, "bob-src", nil)
	update(t, bob, src, func() { src.Data = map[string]string{"k": "v2"} })
	for _, cms := range syncs {
		harness.Eventually(t, admin, harness.ConfigMap(b1, cms.Spec.Destination.Name, nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, "v2", cp.Data["k"])
		})
	}
	untouched(t, "after a source change", newCM, snapshots, reported)

	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		deleteAndWait(t, bob, syncs[policy])
		untouched(t, fmt.Sprintf("after bob deleted his ConfigMapSync with deletionPolicy %s", policy), newCM, snapshots, reported)
	}
}

// TestForgedLabelsOnACopysNameAreAConflictNeverOverwritten: in a namespace both teams write to, bob plants an
// object with the name alice's next copy will have, carrying every combination of the operator's labels and
// annotations claiming her ConfigMapSync (the proof copied from one of her real copies there). When her source
// appears, each is reported as a Conflict and left as bob made it. Under conflictPolicy Adopt, an object claiming
// another ConfigMapSync (bob's) is not adopted either, as the API says of objects of another ConfigMapSync.
func TestForgedLabelsOnACopysNameAreAConflictNeverOverwritten(t *testing.T) {
	t.Parallel()
	a1, b1, shared := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "b1"), harness.NewNamespace(t, admin, "shared")
	alice, bob := newTenant(t, "alice", a1, shared), newTenant(t, "bob", b1, shared)

	// A real copy of alice's in the shared namespace, whose proof bob can read; and a ConfigMapSync of bob's.
	harness.Create(t, alice, harness.ConfigMap(a1, "first-src", map[string]string{"k": "first"}))
	first := newSync(a1, "first", "first-src", "first-copy", shared)
	harness.Create(t, alice, first)
	harness.Ready(t, admin, first)
	realCopy := &corev1.ConfigMap{}
	require.NoError(t, bob.Get(context.Background(), types.NamespacedName{Namespace: shared, Name: "first-copy"}, realCopy))
	harness.Create(t, bob, harness.ConfigMap(b1, "bob-src", map[string]string{"k": "bob"}))
	bobs := newSync(b1, "bob", "bob-src", "bob-copy", b1)
	harness.Create(t, bob, bobs)
	harness.Ready(t, admin, bobs)
	bobsClaim := claimFrom(copyOf(t, b1, "bob-copy"))

	type row struct {
		what   string
		cms    *syncv1.ConfigMapSync
		forged forgery
		claim  func(cms *syncv1.ConfigMapSync) claim
	}
	claimsHers := func(cms *syncv1.ConfigMapSync) claim {
		c := claimFrom(realCopy)
		c.uid, c.owner = string(cms.UID), cms.Namespace+"/"+cms.Name
		return c
	}
	forgeries := everyForgery()
	rows := make([]row, 0, len(forgeries)+1)
	for i, f := range forgeries {
		cms := newSync(a1, fmt.Sprintf("refuse-%02d", i), "src", fmt.Sprintf("refuse-copy-%02d", i), shared)
		rows = append(rows, row{what: f.String() + ", claiming her ConfigMapSync", cms: cms, forged: f, claim: claimsHers})
	}
	all := forgery{managedBy: true, ownerUID: true, owner: true, contentHash: true, proof: true}
	adopt := newSync(a1, "adopt", "src", "adopt-copy", shared)
	adopt.Spec.ConflictPolicy = syncv1.ConflictPolicyAdopt
	rows = append(rows, row{what: all.String() + ", claiming bob's ConfigMapSync, under conflictPolicy Adopt", cms: adopt, forged: all,
		claim: func(*syncv1.ConfigMapSync) claim { return bobsClaim }})

	// Her ConfigMapSyncs wait for a source that does not exist yet; bob plants an object at each copy's name.
	snapshots := make([]snapshot, 0, len(rows))
	for _, r := range rows {
		harness.Create(t, alice, r.cms)
		labels, annotations := r.forged.metadata(r.claim(r.cms))
		planted := harness.ConfigMap(shared, r.cms.Spec.Destination.Name, map[string]string{"planted": "by bob"})
		planted.Labels, planted.Annotations = labels, annotations
		harness.Create(t, bob, planted)
		snapshots = append(snapshots, snapshotOf(r.what, planted))
	}
	harness.Create(t, alice, harness.ConfigMap(a1, "src", map[string]string{"k": "alice"}))

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, r := range rows {
			cms := &syncv1.ConfigMapSync{}
			if !assert.NoError(c, admin.Get(context.Background(), client.ObjectKeyFromObject(r.cms), cms)) {
				continue
			}
			state, _ := destinationState(cms, shared)
			assert.Equal(c, syncv1.DestinationConflict, state, "%s: the destination holding bob's object", r.what)
			assert.Equal(c, metav1.ConditionFalse, readyStatus(cms), "%s: Ready", r.what)
		}
	}, waitFor, tick)
	untouched(t, "after alice's source appeared", func() client.Object { return &corev1.ConfigMap{} }, snapshots,
		map[types.NamespacedName]bool{})
}

// TestForgedOwnershipNeverDeletesOrRotatesAnotherTenantsSecret: bob, who may only patch some Secrets of alice's,
// labels them as the Secrets of his ManagedSecrets (and as copies of his ConfigMapSync of a Secret), with the
// operator's labels alone and with every annotation copied from his real ones. Rotations on request, syncs and
// the deletion of his objects with either policy never delete, rotate or write alice's Secrets.
func TestForgedOwnershipNeverDeletesOrRotatesAnotherTenantsSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a1, b1 := harness.NewNamespace(t, admin, "a1"), harness.NewNamespace(t, admin, "b1")
	alice, bob := newTenant(t, "alice", a1), newTenant(t, "bob", b1)

	// Bob's objects: two ManagedSecrets (Delete, Orphan) and a ConfigMapSync of a Secret.
	managed := make([]*syncv1.ManagedSecret, 0, 2)
	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		ms := &syncv1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: b1, Name: "bob-" + lower(policy)},
			Spec: syncv1.ManagedSecretSpec{DeletionPolicy: policy,
				Keys: []syncv1.ManagedSecretKey{{Name: "password", Random: &syncv1.RandomStringGenerator{}}}}}
		harness.Create(t, bob, ms)
		managed = append(managed, ms)
	}
	harness.Create(t, bob, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: b1, Name: "bob-src"}, Data: map[string][]byte{"k": []byte("v1")}})
	secretSync := newSync(b1, "bob-secret-sync", "bob-src", "bob-secret-copy", b1)
	secretSync.Spec.Source.Kind = syncv1.SourceKindSecret
	harness.Create(t, bob, secretSync)
	harness.Ready(t, admin, secretSync)

	// What bob's real objects carry, read with his own client.
	type claimed struct {
		what        string
		labels      map[string]string
		annotations map[string]string
	}
	claims := make([]claimed, 0, 2*len(managed)+2)
	ownKeys := func(obj client.Object) (map[string]string, map[string]string) {
		labels := map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: obj.GetLabels()[syncv1.OwnerUIDLabel]}
		annotations := map[string]string{}
		for k, v := range obj.GetAnnotations() {
			if strings.HasPrefix(k, syncv1.GroupVersion.Group+"/") {
				annotations[k] = v
			}
		}
		if _, ok := annotations[ownershipProofAnnotation]; !ok {
			annotations[ownershipProofAnnotation] = forgedProof
		}
		return labels, annotations
	}
	for _, ms := range managed {
		own := &corev1.Secret{}
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			assert.NoError(c, bob.Get(ctx, types.NamespacedName{Namespace: b1, Name: ms.Name}, own))
		}, waitFor, tick)
		labels, annotations := ownKeys(own)
		claims = append(claims, claimed{"the labels of ManagedSecret " + ms.Name, labels, nil},
			claimed{"every label and annotation of ManagedSecret " + ms.Name, labels, annotations})
	}
	realCopy := &corev1.Secret{}
	require.NoError(t, bob.Get(ctx, types.NamespacedName{Namespace: b1, Name: "bob-secret-copy"}, realCopy))
	labels, annotations := ownKeys(realCopy)
	claims = append(claims, claimed{"the labels of ConfigMapSync bob-secret-sync", labels, nil},
		claimed{"every label and annotation of ConfigMapSync bob-secret-sync", labels, annotations})

	names := make([]string, 0, len(claims))
	for i := range claims {
		name := fmt.Sprintf("alice-secret-%d", i)
		harness.Create(t, alice, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a1, Name: name},
			Data: map[string][]byte{"password": []byte("alice's own")}})
		names = append(names, name)
	}
	grantNamed(t, bob.name, a1, "secrets", names, "patch")
	snapshots := make([]snapshot, 0, len(claims))
	for i, c := range claims {
		target := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: a1, Name: names[i]}}
		mergePatch(t, bob, target, c.labels, c.annotations)
		snapshots = append(snapshots, snapshotOf(c.what, target))
	}
	reported := map[types.NamespacedName]bool{}
	newSecret := func() client.Object { return &corev1.Secret{} }
	untouched(t, "after bob labelled them", newSecret, snapshots, reported)

	for _, ms := range managed {
		value := fmt.Sprintf("adversarial-%d", harness.Unique())
		mergePatch(t, bob, ms, nil, map[string]string{syncv1.RotateNowAnnotation: value})
		harness.Eventually(t, admin, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
			assert.Equal(c, value, ms.Status.LastHandledRotationRequest)
		})
	}
	requestSync(t, bob, secretSync)
	untouched(t, "after rotations and a sync on request", newSecret, snapshots, reported)

	for _, ms := range managed {
		deleteAndWait(t, bob, ms)
	}
	deleteAndWait(t, bob, secretSync)
	untouched(t, "after bob deleted his ManagedSecrets and ConfigMapSync", newSecret, snapshots, reported)
}

// lower is a deletion policy as it can appear in an object name.
func lower(p syncv1.DeletionPolicy) string { return strings.ToLower(string(p)) }

// unprovenOwnershipReason is the reason of the Warning event the operator records on a ConfigMapSync that objects
// claim without proof.
const unprovenOwnershipReason = syncv1.EventReasonUnprovenOwnership

// assertUnprovenReported checks that the operator told the owner of each ConfigMapSync, with a Warning event on
// it, that objects claim it without proof.
func assertUnprovenReported(t *testing.T, syncs ...*syncv1.ConfigMapSync) {
	t.Helper()
	assert.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, cms := range syncs {
			list := &eventsv1.EventList{}
			if !assert.NoError(c, admin.List(context.Background(), list, client.InNamespace(cms.Namespace))) {
				return
			}
			found := slices.ContainsFunc(list.Items, func(e eventsv1.Event) bool {
				return e.Regarding.UID == cms.UID && e.Type == corev1.EventTypeWarning && e.Reason == unprovenOwnershipReason
			})
			assert.True(c, found, "a Warning event %s on ConfigMapSync %s/%s", unprovenOwnershipReason, cms.Namespace, cms.Name)
		}
	}, waitFor, tick)
}
