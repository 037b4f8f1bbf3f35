// Package olmv1rbac proves config/olmv1/installer-rbac.yaml on a real API server (RBAC authorization, cert-manager's
// CRDs, the OwnerReferencesPermissionEnforcement admission plugin OpenShift runs): acting as the installer
// ServiceAccount, everything OLM v1 does with our bundle's objects succeeds (create them, apply them again as an
// upgrade does, list and watch them as its cache does, delete them as an uninstall does), and with any one rule of
// its ClusterRole or Role removed it fails with a Forbidden error that names the verb and resource the rule grants.
// Its own control plane: the bundle's webhook configurations and conversion wiring point at a Service no pod serves.
package olmv1rbac

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
	"github.com/configmapsync/configmapsync-operator/tests/harness/controlplane"
	"github.com/configmapsync/configmapsync-operator/tests/harness/olmv1"
)

// install is the ClusterExtension of the docs' contract (docs/user-guide.md).
var install = olmv1.Install{Namespace: "configmapsync", ExtensionName: "configmapsync-operator",
	InstallerName: "configmapsync-operator-installer"}

func TestOLMv1InstallerRBACIsEnoughAndEveryRuleIsNeeded(t *testing.T) {
	env, cfg, err := controlplane.Start(controlplane.Options{
		CRDPaths:         []string{harness.Path("tests", "testdata", "cert-manager-crds")},
		AdmissionPlugins: []string{"OwnerReferencesPermissionEnforcement"},
		StartTimeout:     time.Minute,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, apiextensionsv1.AddToScheme(scheme))
	admin, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	require.NoError(t, err)

	owner := createClusterExtension(ctx, t, admin)
	require.NoError(t, admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: install.Namespace}}))
	roles := applyInstallerRBAC(ctx, t, admin)

	bundle, err := olmv1.LoadBundle(harness.Path("bundle"))
	require.NoError(t, err)
	objs, err := olmv1.Render(bundle, install)
	require.NoError(t, err)
	for _, obj := range objs {
		obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: olmv1.ExtensionGroup + "/" + olmv1.ExtensionVersion,
			Kind: olmv1.ExtensionKind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true),
			BlockOwnerDeletion: ptr.To(true)}})
	}
	kinds := map[string]bool{}
	for _, obj := range objs {
		kinds[obj.GetKind()] = true
	}
	for _, kind := range []string{"CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding",
		"Deployment", "Service", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "Certificate",
		"Issuer", "PodDisruptionBudget"} {
		require.True(t, kinds[kind], "OLM v1 renders no %s for the bundle", kind)
	}

	installerCfg := rest.CopyConfig(cfg)
	installerCfg.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + install.Namespace + ":" + install.InstallerName}
	installer, err := client.NewWithWatch(installerCfg, client.Options{Scheme: scheme})
	require.NoError(t, err)

	t.Run("the ClusterRole and Role suffice", func(t *testing.T) {
		require.NoError(t, installAsOLMv1(ctx, installer, objs))
		removeAll(ctx, t, admin, objs)
	})

	for _, role := range roles {
		for i, rule := range role.rules() {
			t.Run(fmt.Sprintf("without %s rule %d %s", role.kind(), i, describe(rule)), func(t *testing.T) {
				remaining := slices.Delete(slices.Clone(role.rules()), i, i+1)
				missing := uncovered(rule, remaining, roles, role)
				require.NotEmpty(t, missing, "the other rules grant all this rule does: it is not needed")
				role.setRules(ctx, t, admin, remaining)
				waitForAccess(ctx, t, admin, missing[0], false)
				t.Cleanup(func() {
					role.setRules(ctx, t, admin, role.rules())
					waitForAccess(ctx, t, admin, missing[0], true)
					removeAll(ctx, t, admin, objs)
				})

				err := installAsOLMv1(ctx, installer, objs)
				require.Error(t, err, "the install succeeded without the rule")
				require.True(t, apierrors.IsForbidden(err), "not Forbidden: %v", err)
				assert.True(t, slices.ContainsFunc(missing, func(a access) bool { return a.namedIn(err.Error()) }),
					"the error names none of the missing rights %v: %v", missing, err)
			})
		}
	}
}

// installAsOLMv1 does with objs what OLM v1 does with an extension's objects: a get and a create of each (its Helm
// applier POSTs new objects), an apply of each as an upgrade or a reconcile does (field manager
// olm.operatorframework.io), a list and a watch of each kind in its scope as its cache does, and the deletion of each
// as an uninstall does.
func installAsOLMv1(ctx context.Context, c client.WithWatch, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(obj), got); !apierrors.IsNotFound(err) {
			return fmt.Errorf("get %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		if err := c.Create(ctx, obj.DeepCopy(), client.FieldOwner(olmv1.FieldManager)); err != nil {
			return fmt.Errorf("create %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	for _, obj := range objs {
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
			client.FieldOwner(olmv1.FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	listed := map[string]bool{}
	for _, obj := range objs {
		if listed[obj.GetKind()] {
			continue
		}
		listed[obj.GetKind()] = true
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(obj.GroupVersionKind().GroupVersion().WithKind(obj.GetKind() + "List"))
		opts := []client.ListOption{client.InNamespace(obj.GetNamespace()),
			client.MatchingLabels{olmv1.OwnerNameLabel: install.ExtensionName}}
		if err := c.List(ctx, list, opts...); err != nil {
			return fmt.Errorf("list %s: %w", obj.GetKind(), err)
		}
		w, err := c.Watch(ctx, list, opts...)
		if err != nil {
			return fmt.Errorf("watch %s: %w", obj.GetKind(), err)
		}
		w.Stop()
	}
	for _, obj := range slices.Backward(objs) {
		if err := c.Delete(ctx, obj.DeepCopy()); err != nil {
			return fmt.Errorf("delete %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// createClusterExtension creates the ClusterExtension that owns every object, its CRD a stand-in for OLM v1's (the
// admission plugin resolves an owner's kind to check the rights on its finalizers).
func createClusterExtension(ctx context.Context, t *testing.T, admin client.Client) *unstructured.Unstructured {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "clusterextensions." + olmv1.ExtensionGroup},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: olmv1.ExtensionGroup, Scope: apiextensionsv1.ClusterScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "clusterextensions", Kind: olmv1.ExtensionKind,
				ListKind: olmv1.ExtensionKind + "List", Singular: "clusterextension"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: olmv1.ExtensionVersion, Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true)}}}},
		},
	}
	require.NoError(t, admin.Create(ctx, crd))
	ext := &unstructured.Unstructured{}
	ext.SetAPIVersion(olmv1.ExtensionGroup + "/" + olmv1.ExtensionVersion)
	ext.SetKind(olmv1.ExtensionKind)
	ext.SetName(install.ExtensionName)
	require.Eventually(t, func() bool { return admin.Create(ctx, ext) == nil }, 30*time.Second, 100*time.Millisecond,
		"the ClusterExtension CRD was not served")
	return ext
}

// installerRole is the ClusterRole or the Role of config/olmv1/installer-rbac.yaml, as applied.
type installerRole struct {
	cluster *rbacv1.ClusterRole
	ns      *rbacv1.Role
}

func (r installerRole) kind() string {
	if r.cluster != nil {
		return "ClusterRole"
	}
	return "Role"
}

func (r installerRole) rules() []rbacv1.PolicyRule {
	if r.cluster != nil {
		return r.cluster.Rules
	}
	return r.ns.Rules
}

// namespace is where the role's rules apply: "" for all namespaces.
func (r installerRole) namespace() string {
	if r.cluster != nil {
		return ""
	}
	return r.ns.Namespace
}

// setRules replaces the role's rules on the API server.
func (r installerRole) setRules(ctx context.Context, t *testing.T, admin client.Client, rules []rbacv1.PolicyRule) {
	t.Helper()
	if r.cluster != nil {
		cr := &rbacv1.ClusterRole{}
		require.NoError(t, admin.Get(ctx, client.ObjectKeyFromObject(r.cluster), cr))
		cr.Rules = rules
		require.NoError(t, admin.Update(ctx, cr))
		return
	}
	role := &rbacv1.Role{}
	require.NoError(t, admin.Get(ctx, client.ObjectKeyFromObject(r.ns), role))
	role.Rules = rules
	require.NoError(t, admin.Update(ctx, role))
}

// applyInstallerRBAC applies config/olmv1/installer-rbac.yaml as a cluster admin and returns its roles.
func applyInstallerRBAC(ctx context.Context, t *testing.T, admin client.Client) []installerRole {
	t.Helper()
	data, err := os.ReadFile(harness.Path("config", "olmv1", "installer-rbac.yaml"))
	require.NoError(t, err)
	objs, err := manifests.Decode(data)
	require.NoError(t, err)
	var roles []installerRole
	for _, obj := range objs {
		require.NoError(t, admin.Create(ctx, obj.DeepCopy()), "%s %s", obj.GetKind(), obj.GetName())
		switch obj.GetKind() {
		case "ClusterRole":
			cr := &rbacv1.ClusterRole{}
			require.NoError(t, admin.Get(ctx, client.ObjectKeyFromObject(obj), cr))
			roles = append(roles, installerRole{cluster: cr})
		case "Role":
			role := &rbacv1.Role{}
			require.NoError(t, admin.Get(ctx, client.ObjectKeyFromObject(obj), role))
			require.Equal(t, install.Namespace, role.Namespace)
			roles = append(roles, installerRole{ns: role})
		}
	}
	require.Len(t, roles, 2, "installer-rbac.yaml holds a ClusterRole and a Role")
	return roles
}

// access is one right a rule grants: a verb on a resource (or a non-resource URL), by name or on any, in a namespace
// or all.
type access struct {
	verb, group, resource, name, namespace, url string
}

func (a access) String() string {
	if a.url != "" {
		return a.verb + " " + a.url
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s.%s %s", a.verb, a.resource, a.group, a.name))
}

// namedIn says whether an API server's Forbidden message names this right: RBAC's "cannot VERB resource
// "RESOURCE"", the escalation check's list of rights not held ({... Resources:["RESOURCE"], Verbs:["VERB"]}), or
// for the owner's finalizers the admission plugin's "can't set finalizers on".
func (a access) namedIn(msg string) bool {
	if a.url != "" {
		return strings.Contains(msg, "not currently held") && strings.Contains(msg, `"`+a.url+`"`) &&
			strings.Contains(msg, `"`+a.verb+`"`)
	}
	if strings.Contains(msg, fmt.Sprintf("cannot %s resource %q", a.verb, a.resource)) {
		return true
	}
	if a.verb == "update" && strings.HasSuffix(a.resource, "/finalizers") &&
		strings.Contains(msg, "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on") {
		return true // the OwnerReferencesPermissionEnforcement admission plugin's words for it
	}
	return strings.Contains(msg, "not currently held") && strings.Contains(msg, `"`+a.resource+`"`) &&
		strings.Contains(msg, `"`+a.verb+`"`)
}

func (a access) rule() rbacv1.PolicyRule {
	if a.url != "" {
		return rbacv1.PolicyRule{Verbs: []string{a.verb}, NonResourceURLs: []string{a.url}}
	}
	rule := rbacv1.PolicyRule{Verbs: []string{a.verb}, APIGroups: []string{a.group}, Resources: []string{a.resource}}
	if a.name != "" {
		rule.ResourceNames = []string{a.name}
	}
	return rule
}

// uncovered lists the rights of rule that remaining (the rest of role) and the other installer role do not grant.
// A ClusterRole's rule holds in every namespace; a Role's only in its own, where the ClusterRole also holds.
func uncovered(rule rbacv1.PolicyRule, remaining []rbacv1.PolicyRule, roles []installerRole, role installerRole) []access {
	others := slices.Clone(remaining)
	if role.cluster == nil {
		for _, r := range roles {
			if r.cluster != nil {
				others = append(others, r.cluster.Rules...)
			}
		}
	}
	var missing []access
	for _, a := range accesses(rule, role.namespace()) {
		if covered, _ := rbacvalidation.Covers(others, []rbacv1.PolicyRule{a.rule()}); !covered {
			missing = append(missing, a)
		}
	}
	return missing
}

func accesses(rule rbacv1.PolicyRule, namespace string) []access {
	out := make([]access, 0, len(rule.Verbs)*(len(rule.NonResourceURLs)+len(rule.APIGroups)*len(rule.Resources)*max(len(rule.ResourceNames), 1)))
	for _, verb := range rule.Verbs {
		for _, url := range rule.NonResourceURLs {
			out = append(out, access{verb: verb, url: url})
		}
		for _, group := range rule.APIGroups {
			for _, resource := range rule.Resources {
				for _, name := range append(slices.Clone(rule.ResourceNames), "")[:max(len(rule.ResourceNames), 1)] {
					out = append(out, access{verb: verb, group: group, resource: resource, name: name, namespace: namespace})
				}
			}
		}
	}
	return out
}

func describe(rule rbacv1.PolicyRule) string {
	what := slices.Concat(rule.Resources, rule.NonResourceURLs)
	if len(rule.ResourceNames) > 0 {
		what = append(what, "named")
	}
	return strings.Join(rule.Verbs, ",") + " " + strings.Join(what, ",")
}

// waitForAccess waits until the installer has (or lacks) a right: the API server's RBAC authorizer sees role
// changes through a watch, a moment after the write.
func waitForAccess(ctx context.Context, t *testing.T, admin client.Client, a access, allowed bool) {
	t.Helper()
	spec := authorizationv1.SubjectAccessReviewSpec{User: "system:serviceaccount:" + install.Namespace + ":" + install.InstallerName,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + install.Namespace, "system:authenticated"}}
	if a.url != "" {
		spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: a.verb, Path: a.url}
	} else {
		resource, subresource, _ := strings.Cut(a.resource, "/")
		spec.ResourceAttributes = &authorizationv1.ResourceAttributes{Verb: a.verb, Group: a.group, Resource: resource,
			Subresource: subresource, Name: a.name, Namespace: a.namespace}
	}
	require.Eventually(t, func() bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: spec}
		return admin.Create(ctx, sar) == nil && sar.Status.Allowed == allowed
	}, 30*time.Second, 20*time.Millisecond, "the installer's right to %s never became %v", a, allowed)
}

// removeAll deletes, as a cluster admin, whatever a failed install left, and waits until it is gone. A CRD is
// deleted once its instances can be listed: the API server's CRD finalizer backs off when it cannot list them, as
// while their storage initializes right after the CRD is created.
func removeAll(ctx context.Context, t *testing.T, admin client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, obj := range objs {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(obj), crd); apierrors.IsNotFound(err) {
			continue
		}
		list := &unstructured.UnstructuredList{}
		list.SetAPIVersion(crd.Spec.Group + "/" + crd.Spec.Versions[0].Name)
		list.SetKind(crd.Spec.Names.ListKind)
		require.Eventually(t, func() bool { return admin.List(ctx, list) == nil }, 30*time.Second, 20*time.Millisecond,
			"the instances of CRD %s could not be listed", obj.GetName())
	}
	for _, obj := range slices.Backward(objs) {
		if err := admin.Delete(ctx, obj.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
			require.NoError(t, err, "deleting %s %s", obj.GetKind(), obj.GetName())
		}
	}
	for _, obj := range objs {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		deadline := time.Now().Add(2 * time.Minute)
		for !apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(obj), got)) {
			if time.Now().After(deadline) {
				conditions, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
				require.Fail(t, "not deleted", "%s %s was not deleted in 2 minutes: finalizers %v, conditions %v",
					obj.GetKind(), obj.GetName(), got.GetFinalizers(), conditions)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
