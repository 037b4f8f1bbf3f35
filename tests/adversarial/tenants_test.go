package adversarial

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// waitFor and tick are the harness's: a deadline for failure and a polling interval, never a performance assertion.
const (
	waitFor = harness.WaitFor
	tick    = harness.Tick
)

// settle is how long a test watches for something that must not happen (a write, a deletion) after the operator
// had every reason to do it: a sync of the same object has been seen to finish, so this only covers work it
// queued on the way (an orphan sweep after a deletion, a retry with backoff).
const settle = 2 * time.Second

// ownershipProofAnnotation is where the operator keeps the proof that it wrote a copy (an HMAC under a key only it
// can read).
const ownershipProofAnnotation = syncv1.OwnershipProofAnnotation

// observedHashAnnotation is the annotation release 0.3.0's cache used for the hash of a copy's data, and trusted
// when a copy had no data: anyone who can edit a copy can set it.
const observedHashAnnotation = "sync.configmapsync.io/observed-content-hash"

// forgedProof stands in for a proof when the attacker's own copies carry none (a release without proofs): a
// well-formed value that proves nothing.
const forgedProof = "c2lnbmVkLWJ5LW5vYm9keS1pbi1wYXJ0aWN1bGFyLTAwMDAwMDAwMDA="

// tenant is a user with rights in namespaces of their own only, acting through their own client.
type tenant struct {
	name string
	client.Client
}

// newTenant returns a new user named after who (alice, bob) who administers namespaces: the verbs a namespace
// admin has on ConfigMaps, Secrets, Deployments, ConfigMapSyncs and ManagedSecrets there, and nothing else.
func newTenant(t *testing.T, who string, namespaces ...string) tenant {
	t.Helper()
	name := fmt.Sprintf("%s-%d", who, harness.Unique())
	// Not env.AsUser: its client has client-go's default limit of 5 requests a second, and a tenant here makes
	// a hundred requests in a burst.
	user, err := env.AddUser(envtest.User{Name: name, Groups: []string{"system:authenticated"}},
		&rest.Config{QPS: env.Config.QPS, Burst: env.Config.Burst})
	require.NoError(t, err)
	cfg := user.Config()
	cfg.WarningHandler = rest.NoWarnings{}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)
	tn := tenant{name: name, Client: c}
	for _, ns := range namespaces {
		tn.administer(t, ns)
	}
	return tn
}

// adminVerbs are a namespace admin's verbs on the resources a tenant works with.
var adminVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// administer gives the tenant a namespace admin's rights in namespace.
func (tn tenant) administer(t *testing.T, namespace string) {
	t.Helper()
	env.Grant(t, tn.name, namespace, "", []string{"configmaps", "secrets"}, adminVerbs...)
	env.Grant(t, tn.name, namespace, "apps", []string{"deployments"}, adminVerbs...)
	env.Grant(t, tn.name, namespace, syncv1.GroupVersion.Group, []string{"configmapsyncs", "managedsecrets"}, adminVerbs...)
	for _, r := range []authorizationv1.ResourceAttributes{
		{Verb: "deletecollection", Resource: "secrets"}, {Verb: "deletecollection", Group: "apps", Resource: "deployments"},
		{Verb: "deletecollection", Group: syncv1.GroupVersion.Group, Resource: "managedsecrets"},
	} {
		r.Namespace = namespace
		awaitRight(t, tn.name, r)
	}
}

// awaitRight waits until the API server's authorizer lets user do what attrs say: RBAC objects reach it through
// its informers, a moment after they are created.
func awaitRight(t *testing.T, user string, attrs authorizationv1.ResourceAttributes) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:authenticated"}, ResourceAttributes: &attrs}}
		if assert.NoError(c, admin.Create(context.Background(), review)) {
			assert.True(c, review.Status.Allowed, "%s may %s %s in %s", user, attrs.Verb, attrs.Resource, attrs.Namespace)
		}
	}, waitFor, tick)
}

// grantNamed gives user the verbs on the named objects of resource (core group) in namespace, and nothing more.
func grantNamed(t *testing.T, user, namespace, resource string, names []string, verbs ...string) {
	t.Helper()
	name := fmt.Sprintf("%s-named-%d", user, harness.Unique())
	harness.Create(t, admin, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{resource}, ResourceNames: names, Verbs: verbs}}})
	harness.Create(t, admin, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	for _, n := range names {
		for _, verb := range verbs {
			awaitRight(t, user, authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Resource: resource, Name: n})
		}
	}
}

// revoke removes every right user has in namespace, as an admin does when a team leaves it.
func revoke(t *testing.T, user, namespace string) {
	t.Helper()
	ctx := context.Background()
	list := &rbacv1.RoleBindingList{}
	require.NoError(t, admin.List(ctx, list, client.InNamespace(namespace)))
	revoked := 0
	for i := range list.Items {
		b := &list.Items[i]
		if slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool { return s.Kind == rbacv1.UserKind && s.Name == user }) {
			require.NoError(t, admin.Delete(ctx, b))
			revoked++
		}
	}
	require.NotZero(t, revoked, "%s had no rights in %s to revoke", user, namespace)
}

// newSync returns a ConfigMapSync in namespace that copies the ConfigMap source of its own namespace under the name
// copyName into destinations.
func newSync(namespace, name, source, copyName string, destinations ...string) *syncv1.ConfigMapSync {
	return &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: source},
			Destination: syncv1.Destination{Namespaces: destinations, Name: copyName},
		},
	}
}

// update applies mutate to the latest version of obj, read and written with c, retrying on conflicts.
func update(t *testing.T, c client.Client, obj client.Object, mutate func()) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return c.Update(context.Background(), obj)
	}))
}

// mergePatch sends a JSON merge patch of obj's metadata with c, without reading obj first: all a user with only
// the patch verb can do. obj is set to the answer.
func mergePatch(t *testing.T, c client.Client, obj client.Object, labels, annotations map[string]string) {
	t.Helper()
	metadata := map[string]any{}
	if len(labels) > 0 {
		metadata["labels"] = labels
	}
	if len(annotations) > 0 {
		metadata["annotations"] = annotations
	}
	raw, err := json.Marshal(map[string]any{"metadata": metadata})
	require.NoError(t, err)
	require.NoError(t, c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, raw)))
}

// requestSync sets the sync-now annotation of cms with c and waits until the operator has acted on it.
func requestSync(t *testing.T, c client.Client, cms *syncv1.ConfigMapSync) {
	t.Helper()
	value := fmt.Sprintf("adversarial-%d", harness.Unique())
	mergePatch(t, c, cms, nil, map[string]string{syncv1.SyncNowAnnotation: value})
	harness.Eventually(t, admin, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, value, cms.Status.LastHandledSyncRequest)
	})
}

// deleteAndWait deletes obj with c and waits until the operator has finished with it (its finalizer gone).
func deleteAndWait(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	require.NoError(t, c.Delete(context.Background(), obj))
	require.Eventually(t, func() bool { return harness.Absent(t, admin, obj) }, waitFor, tick,
		"%T %s should be cleaned up and deleted", obj, client.ObjectKeyFromObject(obj))
}

// destinationState returns the state cms reports for namespace, and its message; "" when it reports none.
func destinationState(cms *syncv1.ConfigMapSync, namespace string) (syncv1.DestinationState, string) {
	for _, d := range cms.Status.Destinations {
		if d.Namespace == namespace {
			return d.State, d.Message
		}
	}
	return "", ""
}

// readyStatus returns the status of cms's Ready condition for its current generation: Unknown when it has none.
func readyStatus(cms *syncv1.ConfigMapSync) metav1.ConditionStatus {
	cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
	if cond == nil || cond.ObservedGeneration != cms.Generation {
		return metav1.ConditionUnknown
	}
	return cond.Status
}

// copyOf returns the ConfigMap of that name in namespace, read with the admin client.
func copyOf(t *testing.T, namespace, name string) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{}
	require.NoError(t, admin.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, cm))
	return cm
}

// snapshot is what a tenant's object held when the attacker was done with it.
type snapshot struct {
	what string // the forgery it carries, for messages
	key  types.NamespacedName
	uid  types.UID
	rv   string
	data map[string]string
}

// snapshotOf records obj (a ConfigMap or a Secret, as read back from the attacker's last write).
func snapshotOf(what string, obj client.Object) snapshot {
	s := snapshot{what: what, key: client.ObjectKeyFromObject(obj), uid: obj.GetUID(), rv: obj.GetResourceVersion()}
	switch o := obj.(type) {
	case *corev1.ConfigMap:
		s.data = maps.Clone(o.Data)
	case *corev1.Secret:
		s.data = map[string]string{}
		for k, v := range o.Data {
			s.data[k] = string(v)
		}
	}
	return s
}

// untouched watches the objects for settle and reports each that is deleted or written (its resourceVersion moves)
// once, naming the stage of the test and the forgery it carried. newObj returns an empty object of their kind.
func untouched(t *testing.T, stage string, newObj func() client.Object, objs []snapshot, reported map[types.NamespacedName]bool) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		for _, s := range objs {
			if reported[s.key] {
				continue
			}
			obj := newObj()
			err := admin.Get(context.Background(), s.key, obj)
			switch {
			case apierrors.IsNotFound(err):
				t.Errorf("%s: %s (forged: %s) was deleted", stage, s.key, s.what)
			case err != nil:
				require.NoError(t, err)
			case obj.GetUID() != s.uid:
				t.Errorf("%s: %s (forged: %s) was replaced by another object", stage, s.key, s.what)
			case obj.GetResourceVersion() != s.rv:
				t.Errorf("%s: %s (forged: %s) was written: %s", stage, s.key, s.what, describeChange(s, obj))
			default:
				continue
			}
			reported[s.key] = true
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(tick)
	}
}

// describeChange says what changed in obj since s, for a failure message: data and the operator's keys.
func describeChange(s snapshot, obj client.Object) string {
	now := snapshotOf(s.what, obj)
	var parts []string
	if !maps.Equal(s.data, now.data) {
		parts = append(parts, "its data changed")
	}
	if _, owned := obj.GetLabels()[syncv1.OwnerUIDLabel]; !owned {
		parts = append(parts, "its owner label was removed")
	}
	if obj.GetDeletionTimestamp() != nil {
		parts = append(parts, "it is being deleted")
	}
	if len(parts) == 0 {
		parts = append(parts, "its metadata changed")
	}
	return strings.Join(parts, ", ")
}

// claim is what an attacker can copy from one of their own real copies to claim another object for its owner.
type claim struct {
	uid         string
	owner       string
	contentHash string
	proof       string
}

// claimFrom reads what a real copy of the attacker's carries. A copy without a proof (before proofs existed) is
// claimed with forgedProof.
func claimFrom(obj client.Object) claim {
	c := claim{
		uid:         obj.GetLabels()[syncv1.OwnerUIDLabel],
		owner:       obj.GetAnnotations()[syncv1.OwnerAnnotation],
		contentHash: obj.GetAnnotations()[syncv1.ContentHashAnnotation],
		proof:       obj.GetAnnotations()[ownershipProofAnnotation],
	}
	if c.proof == "" {
		c.proof = forgedProof
	}
	return c
}

// forgery is one combination of the operator's labels and annotations an attacker puts on an object.
type forgery struct {
	managedBy, ownerUID, owner, contentHash, proof bool
}

// everyForgery returns every non-empty combination of the operator's ownership labels and annotations.
func everyForgery() []forgery {
	var out []forgery
	for bits := 1; bits < 1<<5; bits++ {
		out = append(out, forgery{managedBy: bits&1 != 0, ownerUID: bits&2 != 0, owner: bits&4 != 0,
			contentHash: bits&8 != 0, proof: bits&16 != 0})
	}
	return out
}

// String names the labels and annotations of the forgery.
func (f forgery) String() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		name string
	}{{f.managedBy, "managed-by"}, {f.ownerUID, "owner-uid"}, {f.owner, "owner"}, {f.contentHash, "content-hash"}, {f.proof, "proof"}} {
		if p.on {
			parts = append(parts, p.name)
		}
	}
	return strings.Join(parts, "+")
}

// metadata returns the labels and annotations of the forgery, with the values of c.
func (f forgery) metadata(c claim) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	if f.managedBy {
		labels[syncv1.ManagedByLabel] = syncv1.ManagedByValue
	}
	if f.ownerUID {
		labels[syncv1.OwnerUIDLabel] = c.uid
	}
	if f.owner {
		annotations[syncv1.OwnerAnnotation] = c.owner
	}
	if f.contentHash {
		annotations[syncv1.ContentHashAnnotation] = c.contentHash
	}
	if f.proof {
		annotations[ownershipProofAnnotation] = c.proof
	}
	return labels, annotations
}
