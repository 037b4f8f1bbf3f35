package harness

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

const (
	// WaitFor bounds how long a test waits for the operator to converge; it is a deadline for failure, not a
	// performance assertion (timings are measured by `make bench`).
	WaitFor = 30 * time.Second
	// Tick is how often a waiting test looks again.
	Tick = 100 * time.Millisecond
)

var counter atomic.Int64

// Unique returns a number no other call in this process returns, for unique object names.
func Unique() int64 { return counter.Add(1) }

// NewNamespace creates a namespace with a unique name for one test and deletes it when the test ends.
func NewNamespace(t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.ToLower(prefix), time.Now().UnixNano()%100000, Unique())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	require.NoError(t, c.Create(context.Background(), ns))
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return name
}

// Create creates obj and fails the test on error.
func Create(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	require.NoError(t, c.Create(context.Background(), obj))
}

// ConfigMap returns a ConfigMap with the given data.
func ConfigMap(namespace, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Data: data}
}

// Eventually waits until obj exists and check passes on it.
func Eventually[T client.Object](t *testing.T, c client.Client, obj T, check func(c *assert.CollectT, obj T)) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	require.EventuallyWithT(t, func(collect *assert.CollectT) {
		if !assert.NoError(collect, c.Get(context.Background(), key, obj)) {
			return
		}
		check(collect, obj)
	}, WaitFor, Tick)
}

// Ready waits until cms reports Ready=True for its current generation.
func Ready(t *testing.T, c client.Client, cms *syncv1.ConfigMapSync) {
	t.Helper()
	Eventually(t, c, cms, func(collect *assert.CollectT, cms *syncv1.ConfigMapSync) {
		cond := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
		if assert.NotNil(collect, cond) {
			assert.Equal(collect, metav1.ConditionTrue, cond.Status, cond.Message)
			assert.Equal(collect, cms.Generation, cond.ObservedGeneration)
		}
	})
}

// Absent reports whether obj does not exist (reading it into obj when it does).
func Absent(t *testing.T, c client.Client, obj client.Object) bool {
	t.Helper()
	err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
	if err != nil && !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	return apierrors.IsNotFound(err)
}

// AsUser returns a client acting as user, a new user with no rights but those a test grants.
func (e *Env) AsUser(t *testing.T, user string) client.Client {
	t.Helper()
	u, err := e.AddUser(envtest.User{Name: user, Groups: []string{"system:authenticated"}}, nil)
	require.NoError(t, err)
	cfg := u.Config()
	cfg.WarningHandler = rest.NoWarnings{} // v1beta1 is deprecated; tests use it on purpose.
	c, err := client.New(cfg, client.Options{Scheme: e.Scheme})
	require.NoError(t, err)
	return c
}

// Grant gives user the verbs on resources of apiGroup in namespace, or cluster-wide when namespace is empty.
func (e *Env) Grant(t *testing.T, user, namespace, apiGroup string, resources []string, verbs ...string) {
	t.Helper()
	name := fmt.Sprintf("%s-%s-%d", user, strings.ReplaceAll(resources[0], ".", "-"), Unique())
	rules := []rbacv1.PolicyRule{{APIGroups: []string{apiGroup}, Resources: resources, Verbs: verbs}}
	subjects := []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user}}
	if namespace == "" {
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subjects,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}}
		Create(t, e.Client, role)
		Create(t, e.Client, binding)
		t.Cleanup(func() {
			_ = e.Client.Delete(context.Background(), binding)
			_ = e.Client.Delete(context.Background(), role)
		})
		return
	}
	Create(t, e.Client, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Rules: rules})
	Create(t, e.Client, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Subjects: subjects, RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
}

// Kit binds the object helpers to one client, the suites' shorthand: kit.Create(t, obj) for Create(t, c, obj).
type Kit struct{ Client client.Client }

// NewNamespace is NewNamespace with the kit's client.
func (k Kit) NewNamespace(t *testing.T, prefix string) string {
	t.Helper()
	return NewNamespace(t, k.Client, prefix)
}

// Create is Create with the kit's client.
func (k Kit) Create(t *testing.T, obj client.Object) {
	t.Helper()
	Create(t, k.Client, obj)
}

// Absent is Absent with the kit's client.
func (k Kit) Absent(t *testing.T, obj client.Object) bool {
	t.Helper()
	return Absent(t, k.Client, obj)
}

// Ready is Ready with the kit's client.
func (k Kit) Ready(t *testing.T, cms *syncv1.ConfigMapSync) {
	t.Helper()
	Ready(t, k.Client, cms)
}
