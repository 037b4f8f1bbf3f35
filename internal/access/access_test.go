package access

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// apiServer answers SubjectAccessReviews, denying "delete" while denyDelete is set, and counts them.
type apiServer struct {
	reviews    atomic.Int32
	denyDelete atomic.Bool
}

func (s *apiServer) reviewer(d *Decisions) Reviewer {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			sar := obj.(*authorizationv1.SubjectAccessReview)
			s.reviews.Add(1)
			sar.Status.Allowed = !s.denyDelete.Load() || sar.Spec.ResourceAttributes.Verb != "delete"
			return nil
		},
	}).Build()
	return Reviewer{Client: c, Decisions: d}
}

func sample() *syncv1.ConfigMapSync {
	return &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "settings"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Kind: syncv1.SourceKindConfigMap, Namespace: "team-a", Name: "app"},
			Destination: syncv1.Destination{Namespaces: []string{"team-b", "team-c"}},
		},
	}
}

var alice = authenticationv1.UserInfo{Username: "alice"}

func TestNeeds_SourceThenEachDestinationOrClusterWideForASelector(t *testing.T) {
	cms := sample()
	assert.Equal(t, `get configmaps "app" in namespace "team-a"; create configmaps in namespace "team-b"; `+
		`update configmaps in namespace "team-b"; delete configmaps in namespace "team-b"; create configmaps in namespace "team-c"; `+
		`update configmaps in namespace "team-c"; delete configmaps in namespace "team-c"`, DescribeAll(Needs(cms)))

	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	cms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true}
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	needs := Needs(cms)
	assert.Len(t, needs, 1+3+3, "one cluster-wide check for a selector, however many namespaces it matches")
	for _, attr := range needs[1:] {
		assert.Empty(t, attr.Namespace)
	}
	assert.Equal(t, "patch deployments.apps in all namespaces (needed for destination.namespaceSelector)", Describe(needs[4]))
}

func TestNeeds_ReadTheSourceAndWriteTheCopiesKind(t *testing.T) {
	cms := sample()
	cms.Spec.Destination.Kind = syncv1.SourceKindSecret
	needs := Needs(cms)
	assert.Equal(t, "configmaps", needs[0].Resource, "the source is read as the ConfigMap it is")
	for _, attr := range needs[1:] {
		assert.Equal(t, "secrets", attr.Resource, "the copies are Secrets: %s", Describe(attr))
	}
}

func TestDecisions_AllowedReviewsAreReusedForAFewSeconds(t *testing.T) {
	now := time.Now()
	s := &apiServer{}
	r := s.reviewer(&Decisions{Now: func() time.Time { return now }})
	needs := Needs(sample()) // 7 permissions
	ctx := context.Background()
	_, err := r.Missing(ctx, alice, needs)
	require.NoError(t, err)
	require.EqualValues(t, 7, s.reviews.Load())
	_, err = r.Missing(ctx, alice, needs)
	require.NoError(t, err)
	assert.EqualValues(t, 7, s.reviews.Load(), "the same user asking again within the TTL costs no review")

	_, err = r.Missing(ctx, authenticationv1.UserInfo{Username: "alice", Groups: []string{"admins"}}, needs)
	require.NoError(t, err)
	assert.EqualValues(t, 14, s.reviews.Load(), "another group set is another user")

	now = now.Add(AllowedTTL)
	_, err = r.Missing(ctx, alice, needs)
	require.NoError(t, err)
	assert.EqualValues(t, 21, s.reviews.Load(), "after the TTL the API server is asked again")
}

func TestDecisions_DenialsAreReusedOnlyWhenAsked(t *testing.T) {
	ctx := context.Background()
	s := &apiServer{}
	s.denyDelete.Store(true)
	r := s.reviewer(&Decisions{}) // the webhook's
	missing, err := r.Missing(ctx, alice, Needs(sample()))
	require.NoError(t, err)
	assert.Equal(t, `delete configmaps in namespace "team-b"; delete configmaps in namespace "team-c"`, DescribeAll(missing))
	before := s.reviews.Load()
	_, err = r.Missing(ctx, alice, Needs(sample()))
	require.NoError(t, err)
	assert.EqualValues(t, 2, s.reviews.Load()-before, "the webhook asks again about denials: a right just granted works at once")

	now := time.Now()
	s.reviews.Store(0)
	rechecker := NewRechecker(nil, 0)
	rechecker.Decisions.Now = func() time.Time { return now }
	r = s.reviewer(rechecker.Decisions)
	for range 3 {
		missing, err = r.Missing(ctx, alice, Needs(sample()))
		require.NoError(t, err)
		assert.Len(t, missing, 2)
	}
	assert.EqualValues(t, 7, s.reviews.Load(), "the controller's resyncs reuse denials too")
	s.denyDelete.Store(false)
	now = now.Add(RecheckTTL)
	missing, err = r.Missing(ctx, alice, Needs(sample()))
	require.NoError(t, err)
	assert.Empty(t, missing, "a right granted again counts once the TTL has passed")
}

func TestDecisions_Bounded(t *testing.T) {
	d := &Decisions{Denials: true, Max: 100}
	for i := range 1000 {
		d.remember(authorizationv1.SubjectAccessReviewSpec{User: "u", UID: time.Duration(i).String()}, i%2 == 0)
	}
	assert.LessOrEqual(t, d.Len(), 100)
	d = &Decisions{}
	for i := range DefaultMaxDecisions + 10 {
		d.remember(authorizationv1.SubjectAccessReviewSpec{User: "u", UID: time.Duration(i).String()}, true)
	}
	assert.LessOrEqual(t, d.Len(), DefaultMaxDecisions)
}

func TestRecordedRequester(t *testing.T) {
	cms := sample()
	_, ok := RecordedRequester(cms)
	assert.False(t, ok, "nothing recorded")

	cms.Annotations = map[string]string{RequestedByAnnotation: "alice"}
	_, ok = RecordedRequester(cms)
	assert.False(t, ok, "a name only, from before identities were recorded")

	full := authenticationv1.UserInfo{Username: "alice", UID: "1", Groups: []string{"team-a"},
		Extra: map[string]authenticationv1.ExtraValue{"k": {"v"}}}
	cms.Annotations[RequestedByIdentityAnnotation] = EncodeIdentity(full)
	got, ok := RecordedRequester(cms)
	require.True(t, ok)
	assert.Equal(t, full, got)

	cms.Annotations[RequestedByAnnotation] = "bob" // changed by a release that knew only the name
	_, ok = RecordedRequester(cms)
	assert.False(t, ok, "an identity of another user than the one whose rights were checked last is not used")

	cms.Annotations[RequestedByAnnotation] = "alice"
	cms.Annotations[RequestedByIdentityAnnotation] = "{not json"
	_, ok = RecordedRequester(cms)
	assert.False(t, ok)
}
