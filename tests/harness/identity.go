package harness

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
)

// OperatorServiceAccount is the user name of the operator's ServiceAccount in OperatorNamespace, for suites that
// run the operator under its own identity (Options.OperatorUser).
const OperatorServiceAccount = "system:serviceaccount:" + OperatorNamespace + ":configmapsync-operator"

// OperatorNamespace is the operator's own namespace in suites that give it one (Options.Namespace).
const OperatorNamespace = "configmapsync-system"

// operatorRolePrefix names the roles bound to the operator's user, as the release's kustomize namePrefix does.
const operatorRolePrefix = "configmapsync-operator-"

// setUpOperatorIdentity creates the operator's namespace and, for Options.OperatorUser, binds to that user
// exactly the rights the release grants the operator (config/rbac/role.yaml, which the CSV carries: its
// ClusterRole cluster-wide, its Role in the operator's namespace), and returns the user's client configuration.
// It returns nil when the operator runs with the admin's rights.
func setUpOperatorIdentity(ctx context.Context, env *envtest.Environment, admin client.Client, base *rest.Config, o Options) (*rest.Config, error) {
	if o.Namespace != "" {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.Namespace}}
		if err := admin.Create(ctx, ns); err != nil {
			return nil, fmt.Errorf("creating the operator's namespace: %w", err)
		}
	}
	if o.OperatorUser == "" {
		return nil, nil
	}
	if err := bindOperatorRoles(ctx, admin, o.OperatorUser, o.Namespace); err != nil {
		return nil, err
	}
	// Leader election is off in the harness, so the leader-election Role (config/rbac/leader_election_role.yaml)
	// is not bound: a suite that turns it on must bind it in o.Namespace too.
	groups := []string{"system:authenticated"}
	if o.Namespace != "" {
		groups = append(groups, "system:serviceaccounts", "system:serviceaccounts:"+o.Namespace)
	}
	user, err := env.AddUser(envtest.User{Name: o.OperatorUser, Groups: groups}, &rest.Config{QPS: base.QPS, Burst: base.Burst})
	if err != nil {
		return nil, fmt.Errorf("adding the operator's user: %w", err)
	}
	return user.Config(), nil
}

// bindOperatorRoles creates the roles of config/rbac/role.yaml and binds them to user: each ClusterRole
// cluster-wide, each Role in namespace (the release's "system", its own namespace); without a namespace the Roles
// are not bound.
func bindOperatorRoles(ctx context.Context, admin client.Client, user, namespace string) error {
	objs, err := operatorRoles()
	if err != nil {
		return err
	}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	for _, obj := range objs {
		name := operatorRolePrefix + obj.GetName()
		var role, binding client.Object
		switch obj.GetKind() {
		case "ClusterRole":
			r := &rbacv1.ClusterRole{}
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, r); err != nil {
				return fmt.Errorf("decoding ClusterRole %s: %w", obj.GetName(), err)
			}
			r.ObjectMeta = metav1.ObjectMeta{Name: name}
			role, binding = r, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
		case "Role":
			if namespace == "" {
				continue
			}
			r := &rbacv1.Role{}
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, r); err != nil {
				return fmt.Errorf("decoding Role %s: %w", obj.GetName(), err)
			}
			r.ObjectMeta = metav1.ObjectMeta{Namespace: namespace, Name: name}
			role, binding = r, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Subjects: subjects,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
		default:
			continue
		}
		for _, o := range []client.Object{role, binding} {
			if err := admin.Create(ctx, o); err != nil {
				return fmt.Errorf("granting the operator its rights: %w", err)
			}
		}
	}
	return nil
}

// operatorRoles decodes config/rbac/role.yaml, generated from the +kubebuilder:rbac markers.
func operatorRoles() ([]*unstructured.Unstructured, error) {
	data, err := os.ReadFile(Path("config", "rbac", "role.yaml"))
	if err != nil {
		return nil, err
	}
	objs, err := manifests.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decoding config/rbac/role.yaml: %w", err)
	}
	return objs, nil
}
