package configmapsync

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// fakeAuthorizer answers SubjectAccessReviews: everything is allowed but what deny says, and only to the user
// with the groups of the test's requester (a review without them is denied, as RBAC through a group would be).
type fakeAuthorizer struct {
	mu      sync.Mutex
	deny    func(authorizationv1.ResourceAttributes) bool
	reviews int
}

func (f *fakeAuthorizer) reviewer() *access.Reviewer {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			sar := obj.(*authorizationv1.SubjectAccessReview)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reviews++
			sar.Status.Allowed = sar.Spec.User == requester.Username && len(sar.Spec.Groups) == len(requester.Groups) &&
				(f.deny == nil || !f.deny(*sar.Spec.ResourceAttributes))
			return nil
		},
	}).Build()
	return &access.Reviewer{Client: c} // no cache: every sync asks
}

func (f *fakeAuthorizer) setDeny(deny func(authorizationv1.ResourceAttributes) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deny = deny
}

var requester = authenticationv1.UserInfo{Username: "alice", UID: "u-1", Groups: []string{"team-a", "system:authenticated"}}

func requestedByAlice(cms *syncv1.ConfigMapSync) {
	cms.Annotations = map[string]string{access.RequestedByAnnotation: "alice",
		access.RequestedByIdentityAnnotation: access.EncodeIdentity(requester)}
}

func newAccessEnv(t *testing.T, cms *syncv1.ConfigMapSync) (*cmsEnv, *fakeAuthorizer) {
	e := newCMSEnv(t, cms, newSourceConfigMap())
	authz := &fakeAuthorizer{}
	e.r.Access = authz.reviewer()
	return e, authz
}

func TestAccess_ASourceNoLongerReadableIsNeitherReadNorCopiedAndCopiesAreKept(t *testing.T) {
	e, authz := newAccessEnv(t, newTestCMS(requestedByAlice))
	e.mustReconcile()
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	require.Len(t, e.ownedCopies(), 3)

	authz.setDeny(func(a authorizationv1.ResourceAttributes) bool { return a.Verb == "get" })
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "changed"
		require.NoError(t, c.Update(t.Context(), src))
	})
	res := e.mustReconcile()
	assert.Positive(t, res.RequeueAfter, "the resync keeps asking, so a right granted again takes effect")
	assert.Equal(t, []string{"status-patch *v1.ConfigMapSync team-a/settings"}, e.recordedWrites(), "no copy is written or pruned")
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonAccessRevoked)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonAccessRevoked)
	assert.Contains(t, cmsCondition(cms, syncv1.StalledCondition).Message, `"alice" may no longer read the source (missing: get configmaps "app-config" in namespace "team-a")`)
	for _, cp := range e.ownedCopies() {
		assert.Equal(t, "value", cp.Data["key"], "the copy in %s is kept as it was", cp.Namespace)
	}
	assert.Equal(t, []string{syncv1.ReasonAccessRevoked}, e.rec.warnings())

	authz.setDeny(nil)
	e.mustReconcile()
	cms = e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
	assert.Equal(t, "changed", e.copyIn("ns-b").Data["key"])
}

func TestAccess_ADestinationNoLongerWritableIsForbiddenAndTheOthersKeepSyncing(t *testing.T) {
	e, authz := newAccessEnv(t, newTestCMS(requestedByAlice))
	e.mustReconcile()
	authz.setDeny(func(a authorizationv1.ResourceAttributes) bool { return a.Namespace == "ns-b" && a.Verb == "update" })
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "changed"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	assert.Equal(t, "changed", e.copyIn("ns-a").Data["key"])
	assert.Equal(t, "changed", e.copyIn("ns-c").Data["key"])
	assert.Equal(t, "value", e.copyIn("ns-b").Data["key"], "nothing is written where the requester may not write")
	for _, w := range e.recordedWrites() {
		assert.NotContains(t, w, "ns-b/")
	}
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonAccessRevoked)
	assert.Equal(t, syncv1.SyncStatusPartiallySynced, cms.Status.SyncStatus)
	assert.EqualValues(t, 2, cms.Status.SyncedDestinations)
	assert.EqualValues(t, 1, cms.Status.FailedDestinations)
	require.NotEmpty(t, cms.Status.Destinations)
	assert.Equal(t, syncv1.DestinationStatus{Namespace: "ns-b", State: syncv1.DestinationForbidden, Message: `the requester "alice" may no longer ` +
		`write here (missing: update configmaps in namespace "ns-b"); nothing is written or deleted here and the copy is kept`}, cms.Status.Destinations[0])

	// Unlisted while the requester may not delete there: the copy no longer wanted is kept, and said so.
	authz.setDeny(func(a authorizationv1.ResourceAttributes) bool { return a.Namespace == "ns-b" })
	e.setup(func(c client.Client) {
		cms := e.cms()
		cms.Spec.Destination.Namespaces = []string{"ns-a", "ns-c"}
		require.NoError(t, c.Update(t.Context(), cms))
	})
	e.mustReconcile()
	assert.NotNil(t, e.copyIn("ns-b"), "a copy no longer wanted is not pruned where the requester may not delete")
	cms = e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonAccessRevoked)
	assert.Equal(t, syncv1.DestinationForbidden, cms.Status.Destinations[0].State)
	assert.Contains(t, cms.Status.Destinations[0].Message, `delete configmaps in namespace "ns-b"`)

	authz.setDeny(nil)
	e.mustReconcile()
	assert.Nil(t, e.copyIn("ns-b"), "pruned once allowed")
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
}

func TestAccess_ASelectorIsCheckedOnceClusterWide(t *testing.T) {
	e, authz := newAccessEnv(t, newTestCMS(requestedByAlice, func(cms *syncv1.ConfigMapSync) {
		cms.Spec.Destination = syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"sync": "yes"}}}
	}))
	for _, ns := range testDestinations {
		e.ns.AddNamespace(ns, map[string]string{"sync": "yes"}, false)
	}
	e.mustReconcile()
	assert.Equal(t, 4, authz.reviews, "get on the source, and create, update, delete in all namespaces: not one per namespace")
	require.Len(t, e.ownedCopies(), 3)

	authz.setDeny(func(a authorizationv1.ResourceAttributes) bool { return a.Namespace == "" && a.Verb == "create" })
	e.mustReconcile()
	cms := e.cms()
	assert.EqualValues(t, 3, cms.Status.FailedDestinations)
	for _, d := range cms.Status.Destinations {
		assert.Equal(t, syncv1.DestinationForbidden, d.State)
		assert.Contains(t, d.Message, "create configmaps in all namespaces")
	}
	assert.Len(t, e.ownedCopies(), 3, "copies kept")
}

func TestAccess_AnObjectWithoutARecordedIdentityIsNotRecheckedAndSaysSo(t *testing.T) {
	e, authz := newAccessEnv(t, newTestCMS(func(cms *syncv1.ConfigMapSync) {
		cms.Annotations = map[string]string{access.RequestedByAnnotation: "alice"} // admitted by 0.3.0
	}))
	authz.setDeny(func(authorizationv1.ResourceAttributes) bool { return true })
	e.mustReconcile()
	assert.Zero(t, authz.reviews)
	require.Len(t, e.ownedCopies(), 3, "it syncs as before the upgrade")
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Contains(t, cmsCondition(cms, syncv1.ReadyCondition).Message, `the rights of the requester "alice" are not re-checked`)
}
