package adversarial

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestTheOperatorActsAsItsOwnUserWithTheReleasesRights guards what every other test here relies on: the operator
// this suite runs connects as its ServiceAccount, not as the admin, and that user has the release's rights
// (config/rbac/role.yaml) and no more: what a tenant tricks it into is then what it could do in a cluster.
func TestTheOperatorActsAsItsOwnUserWithTheReleasesRights(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	require.NotNil(t, env.OperatorConfig, "the operator runs with the admin's rights")
	operator, err := client.New(env.OperatorConfig, client.Options{Scheme: env.Scheme})
	require.NoError(t, err)

	review := &authenticationv1.SelfSubjectReview{}
	require.NoError(t, operator.Create(ctx, review))
	assert.Equal(t, harness.OperatorServiceAccount, review.Status.UserInfo.Username)

	may := func(verb, group, resource, namespace string) bool {
		t.Helper()
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Namespace: namespace}}}
		require.NoError(t, operator.Create(ctx, review))
		return review.Status.Allowed
	}
	assert.True(t, may("delete", "", "configmaps", "any"), "the release lets it delete copies anywhere")
	assert.True(t, may("create", "", "secrets", harness.OperatorNamespace), "its Role in its own namespace")
	for _, denied := range []struct{ verb, group, resource string }{
		{"create", "", "namespaces"}, {"delete", "", "namespaces"}, {"create", "", "pods"},
		{"create", "rbac.authorization.k8s.io", "rolebindings"}, {"delete", "sync.configmapsync.io", "configmapsyncs"},
		{"create", "sync.configmapsync.io", "managedsecrets"},
	} {
		assert.False(t, may(denied.verb, denied.group, denied.resource, "any"), "%s %s.%s", denied.verb, denied.resource, denied.group)
	}
}
