package olmv1

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Resource is the API resource of a kind OLM v1 may create for a bundle.
type Resource struct {
	Group, Resource string
	Namespaced      bool
}

// resources are the kinds registry+v1 bundles put on a cluster (those of our bundle and the common others).
var resources = map[schema.GroupKind]Resource{
	{Group: "", Kind: "ServiceAccount"}:                                             {"", "serviceaccounts", true},
	{Group: "", Kind: "Service"}:                                                    {"", "services", true},
	{Group: "", Kind: "ConfigMap"}:                                                  {"", "configmaps", true},
	{Group: "", Kind: "Secret"}:                                                     {"", "secrets", true},
	{Group: "apps", Kind: "Deployment"}:                                             {"apps", "deployments", true},
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                  {"policy", "poddisruptionbudgets", true},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                       {"rbac.authorization.k8s.io", "clusterroles", false},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                {"rbac.authorization.k8s.io", "clusterrolebindings", false},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:                              {"rbac.authorization.k8s.io", "roles", true},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:                       {"rbac.authorization.k8s.io", "rolebindings", true},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:               {"apiextensions.k8s.io", "customresourcedefinitions", false},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}: {"admissionregistration.k8s.io", "validatingwebhookconfigurations", false},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:   {"admissionregistration.k8s.io", "mutatingwebhookconfigurations", false},
	{Group: "cert-manager.io", Kind: "Issuer"}:                                      {"cert-manager.io", "issuers", true},
	{Group: "cert-manager.io", Kind: "Certificate"}:                                 {"cert-manager.io", "certificates", true},
	{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"}:                        {"monitoring.coreos.com", "servicemonitors", true},
	{Group: "monitoring.coreos.com", Kind: "PrometheusRule"}:                        {"monitoring.coreos.com", "prometheusrules", true},
}

// ResourceOf returns the resource of a kind Render knows.
func ResourceOf(gk schema.GroupKind) (Resource, bool) {
	r, ok := resources[gk]
	return r, ok
}

// Unnamed are the verbs RBAC cannot limit to resource names: a create has no name yet (OLM v1's Helm applier
// POSTs), and OLM v1's cache of the objects it manages lists and watches them by label.
var Unnamed = []string{"create", "list", "watch"}

// Named are the verbs on existing objects, granted only on the names OLM v1 creates: get for its diff, update and
// patch to reconcile and upgrade, delete to remove what an upgrade drops and everything at uninstall.
var Named = []string{"get", "update", "patch", "delete"}

// RBAC is the least-privilege installer: a ServiceAccount, a ClusterRole for what lives at the cluster scope and
// for the rights the bundle grants its operator (RBAC lets a user grant only rights it holds itself), and a Role in
// the install namespace for the namespaced objects.
type RBAC struct {
	ServiceAccount     *corev1.ServiceAccount
	ClusterRole        *rbacv1.ClusterRole
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	Role               *rbacv1.Role
	RoleBinding        *rbacv1.RoleBinding
}

// Objects returns the installer's objects in the order to apply them.
func (r *RBAC) Objects() []client.Object {
	return []client.Object{r.ServiceAccount, r.ClusterRole, r.ClusterRoleBinding, r.Role, r.RoleBinding}
}

// InstallerRBAC derives the installer's rights from what Render returns. ClusterRole rules, in order: for each
// cluster-scoped kind, create/list/watch, then get/update/patch/delete on the names OLM v1 gives; update of the
// ClusterExtension's finalizers (the OwnerReferencesPermissionEnforcement admission plugin requires it to set
// blockOwnerDeletion on owner references to it); then every rule of the ClusterRoles OLM v1 creates, without those
// the other rules already cover. The Role holds the same two rules for each namespaced kind.
func InstallerRBAC(objs []*unstructured.Unstructured, in Install) (*RBAC, error) {
	type managed struct {
		res   Resource
		names []string
	}
	var kinds []*managed
	var granted []rbacv1.PolicyRule
	for _, obj := range objs {
		gvk := obj.GetObjectKind().GroupVersionKind()
		res, ok := ResourceOf(gvk.GroupKind())
		if !ok {
			return nil, fmt.Errorf("%s %s: kind not known to the installer's RBAC", gvk.Kind, obj.GetName())
		}
		i := slices.IndexFunc(kinds, func(m *managed) bool { return m.res == res })
		if i < 0 {
			kinds = append(kinds, &managed{res: res})
			i = len(kinds) - 1
		}
		kinds[i].names = append(kinds[i].names, obj.GetName())
		if gvk.Kind == "ClusterRole" || gvk.Kind == "Role" {
			rules, err := rulesOf(obj)
			if err != nil {
				return nil, err
			}
			granted = append(granted, rules...)
		}
	}

	var clusterRules, namespaceRules []rbacv1.PolicyRule
	for _, m := range kinds {
		names := slices.Clone(m.names)
		slices.Sort(names)
		rules := []rbacv1.PolicyRule{
			{APIGroups: []string{m.res.Group}, Resources: []string{m.res.Resource}, Verbs: slices.Clone(Unnamed)},
			{APIGroups: []string{m.res.Group}, Resources: []string{m.res.Resource}, Verbs: slices.Clone(Named),
				ResourceNames: slices.Compact(names)},
		}
		if m.res.Namespaced {
			namespaceRules = append(namespaceRules, rules...)
		} else {
			clusterRules = append(clusterRules, rules...)
		}
	}
	clusterRules = append(clusterRules, rbacv1.PolicyRule{APIGroups: []string{ExtensionGroup},
		Resources: []string{"clusterextensions/finalizers"}, Verbs: []string{"update"}, ResourceNames: []string{in.ExtensionName}})
	clusterRules = withoutCovered(clusterRules, granted)

	meta := metav1.ObjectMeta{Name: in.InstallerName}
	namespaced := metav1.ObjectMeta{Name: in.InstallerName, Namespace: in.Namespace}
	subjects := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: in.InstallerName, Namespace: in.Namespace}}
	return &RBAC{
		ServiceAccount: &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"), ObjectMeta: namespaced},
		ClusterRole:    &rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"), ObjectMeta: meta, Rules: clusterRules},
		ClusterRoleBinding: &rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
			ObjectMeta: meta, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: in.InstallerName}},
		Role: &rbacv1.Role{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "Role"), ObjectMeta: namespaced, Rules: namespaceRules},
		RoleBinding: &rbacv1.RoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "RoleBinding"),
			ObjectMeta: namespaced, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: in.InstallerName}},
	}, nil
}

func rulesOf(obj *unstructured.Unstructured) ([]rbacv1.PolicyRule, error) {
	var role rbacv1.ClusterRole // a Role's rules have the same fields
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return role.Rules, nil
}

// withoutCovered appends to base each granted rule that neither the rules kept so far nor the granted rules after
// it cover, as the API server's escalation check compares rules (of equal rules, the last is kept).
func withoutCovered(base, granted []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	kept := slices.Clone(base)
	for i, rule := range granted {
		others := slices.Concat(kept, granted[i+1:])
		if covered, _ := rbacvalidation.Covers(others, []rbacv1.PolicyRule{rule}); covered {
			continue
		}
		kept = append(kept, rule)
	}
	return kept
}
