package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// revoke deletes the RoleBindings in namespace that env.Grant made for user on resource.
func revoke(t *testing.T, user, namespace, resource string) {
	t.Helper()
	list := &rbacv1.RoleBindingList{}
	require.NoError(t, k8s.List(context.Background(), list, client.InNamespace(namespace)))
	revoked := 0
	for i := range list.Items {
		if b := &list.Items[i]; strings.HasPrefix(b.Name, user+"-"+resource+"-") {
			require.NoError(t, k8s.Delete(context.Background(), b))
			revoked++
		}
	}
	require.Positive(t, revoked, "no RoleBinding of %s on %s in %s", user, resource, namespace)
}

// copyHolds waits until the ConfigMap copy "settings" in namespace holds value under key k.
func copyHolds(t *testing.T, namespace, value string) {
	t.Helper()
	harness.Eventually(t, k8s, harness.ConfigMap(namespace, "settings", nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
		assert.Equal(c, value, cp.Data["k"])
	})
}

// copyKeeps checks that the copy namespace/name holds value, and still does a few seconds later.
func copyKeeps(t *testing.T, namespace, name, value string) {
	t.Helper()
	require.Never(t, func() bool {
		cp := harness.ConfigMap(namespace, name, nil)
		return k8s.Get(context.Background(), clientKey(cp), cp) != nil || cp.Data["k"] != value
	}, 3*time.Second, tick, "the copy in %s must be kept as it was, with %q", namespace, value)
}

// TestRevokedRightsStopTheSyncAndGrantedRightsResumeIt creates a ConfigMapSync as a tenant with namespace-scoped
// rights only, then takes those rights away and gives them back: the operator stops doing for the tenant what the
// tenant may no longer do, says so, keeps the copies, and resumes at the next sync once the rights are back.
func TestRevokedRightsStopTheSyncAndGrantedRightsResumeIt(t *testing.T) {
	src, dstA, dstB := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst-a"), kit.NewNamespace(t, "dst-b")
	user := fmt.Sprintf("tenant-%d", harness.Unique())
	tenant := env.AsUser(t, user)
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "v1"})
	kit.Create(t, source)
	env.Grant(t, user, src, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch")
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	env.Grant(t, user, dstA, "", []string{"configmaps"}, "create", "update", "delete")
	env.Grant(t, user, dstB, "", []string{"configmaps"}, "create", "update", "delete")

	cms := v1Sync(src, "lasting", "settings", dstA, dstB)
	cms.Spec.SyncFrequency = string(syncv1.MinSyncFrequency)
	require.NoError(t, tenant.Create(context.Background(), cms))
	recorded, ok := access.RecordedRequester(cms)
	require.True(t, ok, "the webhook records the whole identity")
	assert.Equal(t, user, recorded.Username)
	assert.Contains(t, recorded.Groups, "system:authenticated")
	copyHolds(t, dstA, "v1")
	copyHolds(t, dstB, "v1")

	// The source may no longer be read: the next resync stops, names the permission, and copies nothing more.
	revoke(t, user, src, "configmaps")
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		stalled := meta.FindStatusCondition(cms.Status.Conditions, syncv1.StalledCondition)
		if assert.NotNil(c, stalled) {
			assert.Equal(c, syncv1.ReasonAccessRevoked, stalled.Reason)
			assert.Contains(c, stalled.Message, fmt.Sprintf(`%q may no longer read the source (missing: get configmaps "settings" in namespace %q)`, user, src))
		}
		assert.True(c, meta.IsStatusConditionFalse(cms.Status.Conditions, syncv1.ReadyCondition))
	})
	update(t, source, func() { source.Data["k"] = "v2" })
	copyKeeps(t, dstA, "settings", "v1")
	copyKeeps(t, dstB, "settings", "v1")
	assert.Contains(t, eventsText(t), `"reason":"AccessRevoked"`, "a Warning event says it too")

	// Read access again: the next resync copies the new content.
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	copyHolds(t, dstA, "v2")
	copyHolds(t, dstB, "v2")
	kit.Ready(t, cms)
	assert.Nil(t, meta.FindStatusCondition(cms.Status.Conditions, syncv1.StalledCondition))

	// One destination may no longer be written: it is Forbidden, the other keeps syncing.
	revoke(t, user, dstB, "configmaps")
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		i := slices.IndexFunc(cms.Status.Destinations, func(d syncv1.DestinationStatus) bool { return d.Namespace == dstB })
		if assert.GreaterOrEqual(c, i, 0) {
			assert.Equal(c, syncv1.DestinationForbidden, cms.Status.Destinations[i].State)
			assert.Contains(c, cms.Status.Destinations[i].Message, fmt.Sprintf("create configmaps in namespace %q", dstB))
		}
		ready := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(c, ready) {
			assert.Equal(c, syncv1.ReasonAccessRevoked, ready.Reason)
		}
		assert.Equal(c, syncv1.SyncStatusPartiallySynced, cms.Status.SyncStatus)
	})
	update(t, source, func() { source.Data["k"] = "v3" })
	copyHolds(t, dstA, "v3")
	copyKeeps(t, dstB, "settings", "v2")

	// Write access again: the destination catches up.
	env.Grant(t, user, dstB, "", []string{"configmaps"}, "create", "update", "delete")
	copyHolds(t, dstB, "v3")
	kit.Ready(t, cms)
}

// TestASpecChangeOnAConfigMapSyncBeingDeletedIsAuthorized widens a ConfigMapSync that is being deleted (held by
// another finalizer) into a namespace its user cannot write: the webhooks check it as any other change.
func TestASpecChangeOnAConfigMapSyncBeingDeletedIsAuthorized(t *testing.T) {
	src, mine, theirs := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "mine"), kit.NewNamespace(t, "theirs")
	user := fmt.Sprintf("tenant-%d", harness.Unique())
	tenant := env.AsUser(t, user)
	kit.Create(t, harness.ConfigMap(src, "settings", map[string]string{"k": "v"}))
	env.Grant(t, user, src, syncv1.GroupVersion.Group, []string{"configmapsyncs"}, "get", "create", "update", "patch", "delete")
	env.Grant(t, user, src, "", []string{"configmaps"}, "get")
	env.Grant(t, user, mine, "", []string{"configmaps"}, "create", "update", "delete")

	const hold = "example.com/hold"
	cms := v1Sync(src, "leaving", "settings", mine)
	cms.Finalizers = []string{hold}
	require.NoError(t, tenant.Create(context.Background(), cms))
	t.Cleanup(func() {
		_ = tryUpdate(cms, func() { cms.Finalizers = slices.DeleteFunc(cms.Finalizers, func(f string) bool { return f == hold }) })
	})
	copyHolds(t, mine, "v")
	require.NoError(t, tenant.Delete(context.Background(), cms))
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, []string{hold}, cms.Finalizers, "the operator has cleaned up; another finalizer holds the object")
	})

	err := tryUpdateAs(tenant, cms, func() { cms.Spec.Destination.Namespaces = []string{mine, theirs} })
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("create configmaps in namespace %q", theirs))

	err = tryUpdateAs(tenant, cms, func() { cms.Spec.SyncFrequency = "1ms" })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.syncFrequency")
}

// TestSecretCopyErrorsQuoteNoValue has the API server reject a Secret copy with a message that quotes its value
// (a ValidatingAdmissionPolicy whose messageExpression prints the data, base64-encoded as stored, answered as
// Invalid), and searches the status, events and logs for the value and its encoding.
func TestSecretCopyErrorsQuoteNoValue(t *testing.T) {
	canary := fmt.Sprintf("canary-%d-rejected-copy", time.Now().UnixNano())
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "quoted")
	label := fmt.Sprintf("quote-%d", harness.Unique())
	ns := &corev1.Namespace{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Name: dst}, ns))
	ns.Labels = map[string]string{"quote-values": label}
	require.NoError(t, k8s.Update(context.Background(), ns))
	quoteSecrets(t, label)

	kit.Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "token"}, Data: map[string][]byte{"token": []byte(canary)}})
	cms := v1Sync(src, "quoted", "token", dst)
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	kit.Create(t, cms)
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		stalled := meta.FindStatusCondition(cms.Status.Conditions, syncv1.StalledCondition)
		if assert.NotNil(c, stalled) {
			assert.Equal(c, syncv1.ReasonPermanentFailure, stalled.Reason)
			assert.Contains(c, stalled.Message, "ValidatingAdmissionPolicy", "the rejection reached the status (positive control)")
		}
	})
	for name, text := range map[string]string{"status": statusesText(t), "events": eventsText(t), "operator logs": operatorLogs.String()} {
		for _, needle := range append([]string{canary}, encodings(canary)...) {
			assert.NotContains(t, text, needle, "the Secret's value leaked into %s through the API server's message", name)
		}
	}
}

// quoteSecrets installs a ValidatingAdmissionPolicy that rejects every Secret written in the namespaces labelled
// quote-values=label with a message quoting its "token" value, and waits until it is in force.
func quoteSecrets(t *testing.T, label string) {
	t.Helper()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: label},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{
				Expression: "!has(object.data) || !('token' in object.data)",
				// CEL sees the data as it is stored, base64-encoded: the message quotes the value in that form.
				MessageExpression: `"token must not be " + object.data['token']`,
				Reason:            ptr.To(metav1.StatusReasonInvalid),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: label},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        label,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"quote-values": label}}},
		},
	}
	kit.Create(t, policy)
	kit.Create(t, binding)
	t.Cleanup(func() {
		_ = k8s.Delete(context.Background(), binding)
		_ = k8s.Delete(context.Background(), policy)
	})
	probe := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Data: map[string][]byte{"token": []byte("probe-value")}}
	list := &corev1.NamespaceList{}
	require.NoError(t, k8s.List(context.Background(), list, client.MatchingLabels{"quote-values": label}))
	require.Len(t, list.Items, 1)
	probe.Namespace = list.Items[0].Name
	require.Eventually(t, func() bool {
		err := k8s.Create(context.Background(), probe.DeepCopy(), client.DryRunAll)
		return apierrors.IsInvalid(err) && strings.Contains(err.Error(), "token must not be "+encodings("probe-value")[0])
	}, waitFor, tick, "the policy quotes the value it rejects")
}
