package integration

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestTheOperatorsRBACTouchesOnlyItsOwnCRD binds the generated ClusterRole (config/rbac/role.yaml, what the CSV's
// clusterPermissions carry) to a user and asks the API server's RBAC authorizer: the stored-version migration may
// read and update the status of the ConfigMapSync CRD, and of no other CRD in the cluster.
func TestTheOperatorsRBACTouchesOnlyItsOwnCRD(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(harness.Path("config", "rbac", "role.yaml"))
	require.NoError(t, err)
	objs, err := manifests.Decode(data)
	require.NoError(t, err)
	var role *rbacv1.ClusterRole
	for _, obj := range objs {
		if obj.GetKind() == "ClusterRole" {
			role = &rbacv1.ClusterRole{}
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, role))
		}
	}
	require.NotNil(t, role, "no ClusterRole in config/rbac/role.yaml")
	role.ObjectMeta = metav1.ObjectMeta{GenerateName: "operator-rbac-probe-"}
	kit.Create(t, role)
	const user = "operator-rbac-probe"
	kit.Create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "operator-rbac-probe-"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}})

	allowed := func(verb, subresource, name string) bool {
		review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions",
				Subresource: subresource, Verb: verb, Name: name}}}
		require.NoError(t, k8s.Create(ctx, review))
		return review.Status.Allowed
	}
	const ours = "configmapsyncs.sync.configmapsync.io"
	assert.Eventually(t, func() bool { return allowed("patch", "status", ours) }, waitFor, tick,
		"the migration patches the status of %s", ours)
	assert.True(t, allowed("get", "", ours))
	for _, other := range []string{"managedsecrets.sync.configmapsync.io", "prometheusrules.monitoring.coreos.com", ""} {
		for _, verb := range []string{"update", "patch"} {
			assert.False(t, allowed(verb, "status", other), "%s the status of CRD %q", verb, other)
		}
		assert.False(t, allowed("get", "", other), "get CRD %q", other)
		assert.False(t, allowed("update", "", other), "update CRD %q", other)
	}
}
