package webhook

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// reviewer answers SubjectAccessReviews with allow (denying "delete" when denyDelete is set) and counts them.
type reviewer struct {
	reviews    atomic.Int32
	denyDelete atomic.Bool
}

func (r *reviewer) authorizer(d *access.Decisions) Authorizer {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			sar := obj.(*authorizationv1.SubjectAccessReview)
			r.reviews.Add(1)
			sar.Status.Allowed = !r.denyDelete.Load() || sar.Spec.ResourceAttributes.Verb != "delete"
			return nil
		},
	}).Build()
	return Authorizer{Client: c, Decisions: d}
}

func asUser(name string, groups ...string) context.Context {
	return admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, UserInfo: authenticationv1.UserInfo{Username: name, Groups: groups},
	}})
}

func TestDecisions_AllowedReviewsAreReusedForAFewSeconds(t *testing.T) {
	now := time.Now()
	d := &access.Decisions{Now: func() time.Time { return now }}
	r := &reviewer{}
	a := r.authorizer(d)
	cms := valid() // get on the source, create/update/delete in two namespaces: 7 reviews
	require.NoError(t, a.Authorize(asUser("alice"), nil, cms))
	require.EqualValues(t, 7, r.reviews.Load())

	require.NoError(t, a.Authorize(asUser("alice"), nil, cms))
	assert.EqualValues(t, 7, r.reviews.Load(), "the same user asking again within the TTL costs no review")

	require.NoError(t, a.Authorize(asUser("alice", "admins"), nil, cms))
	assert.EqualValues(t, 14, r.reviews.Load(), "another group set is another user")
	require.NoError(t, a.Authorize(asUser("bob"), nil, cms))
	assert.EqualValues(t, 21, r.reviews.Load(), "another user is asked about")

	now = now.Add(access.AllowedTTL)
	require.NoError(t, a.Authorize(asUser("alice"), nil, cms))
	assert.EqualValues(t, 28, r.reviews.Load(), "after the TTL the API server is asked again")
}

func TestDecisions_DenialsAreNeverReused(t *testing.T) {
	r := &reviewer{}
	r.denyDelete.Store(true)
	a := r.authorizer(&access.Decisions{})
	cms := valid()
	require.Error(t, a.Authorize(asUser("alice"), nil, cms))
	r.denyDelete.Store(false) // the right is granted
	before := r.reviews.Load()
	require.NoError(t, a.Authorize(asUser("alice"), nil, cms), "a right just granted works at once")
	assert.EqualValues(t, 2, r.reviews.Load()-before, "only the two denied reviews are asked again")
}
