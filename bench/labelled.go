package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// The labelled-memory scenario (issue 27, "memory that only the operator's own copies can use"): a tenant, with
// rights in her own namespace only, creates labelledObjects ConfigMaps of labelledSize carrying the operator's
// managed-by label, every other one also a forged owner-uid label and content-hash annotation; the operator's RSS
// must not grow by more than labelledGrowthLimitMiB.
const (
	labelledObjects        = 200
	labelledSize           = 900 << 10
	labelledGrowthLimitMiB = 16
	tenantName             = "tenant-a"
	// labelledValue is the valueKey of the tenant's ConfigMaps (the bench's watch sees them: they carry the label).
	labelledValue = "tenant-labelled"
)

// labelledMemory measures the operator's settled RSS before and after the tenant's ConfigMaps exist, on the
// pod-like operator (its ServiceAccount's rights, the container's memory limit), started fresh for it.
func (b *bench) labelledMemory(ctx context.Context) error {
	return b.withPodOperator(ctx, func(ctx context.Context) error {
		tenant, err := b.c.tenant(ctx, tenantName)
		if err != nil {
			return err
		}
		logf("labelled-memory: operator RSS before (settling %s)", b.cfg.settle)
		before, err := settledRSS(ctx, b.op.PID(), b.cfg.settle)
		if err != nil {
			return err
		}
		heapBefore := b.heapInUse(ctx)
		if err := resetPeakRSS(b.op.PID()); err != nil {
			logf("labelled-memory: %v", err)
		}
		logf("labelled-memory: the tenant creates %d ConfigMaps of %s with the managed-by label", labelledObjects, sizeName(labelledSize))
		forged := string(uuid.NewUUID())
		created, err := timed(func() error {
			return parallel(ctx, labelledObjects, func(ctx context.Context, i int) error {
				return tenant.Create(ctx, labelledConfigMap(i, forged))
			})
		})
		if err != nil {
			return fmt.Errorf("the tenant's creates: %w", err)
		}
		// Twice the usual settling: the Go runtime returns freed memory to the kernel gradually, and the figure is
		// about what the operator keeps, not about how fast it gives back what passed through.
		settle := 2 * b.cfg.settle
		logf("labelled-memory: created in %s; operator RSS after (settling %s)", created.Round(time.Millisecond), settle)
		after, err := settledRSS(ctx, b.op.PID(), settle)
		if err != nil {
			return err
		}
		peak, err := peakRSS(b.op.PID())
		if err != nil {
			return err
		}
		f := atMost("labelled-memory", fmt.Sprintf("operator RSS growth after a tenant creates %d ConfigMaps of %s with its managed-by label",
			labelledObjects, sizeName(labelledSize)), mib(after-before), "MiB", labelledGrowthLimitMiB)
		f.Note = fmt.Sprintf("%s; created by user %q with rights on ConfigMaps in namespace %s only, in %.1f s; half also "+
			"carry a forged %s label and %s annotation; RSS %.1f MiB before, %.1f MiB after (peak of 5 s of samples after "+
			"%s settling), peak %.1f MiB while they were created; Go heap in use %.1f → %.1f MiB",
			b.op.describe(), tenantName, tenantName, created.Seconds(), syncv1.OwnerUIDLabel, syncv1.ContentHashAnnotation,
			mib(before), mib(after), settle, mib(peak), mib(heapBefore), mib(b.heapInUse(ctx)))
		b.add(f)
		logf("labelled-memory: deleting the tenant's ConfigMaps")
		return parallel(ctx, labelledObjects, func(ctx context.Context, i int) error {
			err := b.c.client.Delete(ctx, labelledConfigMap(i, forged))
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
	})
}

// labelledConfigMap is the tenant's i-th ConfigMap: labelledSize bytes with the operator's managed-by label, and
// for odd i also a forged owner-uid label and content-hash annotation.
func labelledConfigMap(i int, forgedUID string) *corev1.ConfigMap {
	cm := sizedConfigMap(tenantName, fmt.Sprintf("labelled-%d", i), labelledValue, labelledSize)
	cm.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue}
	if i%2 == 1 {
		cm.Labels[syncv1.OwnerUIDLabel] = forgedUID
		cm.Annotations = map[string]string{syncv1.ContentHashAnnotation: "sha256:forged"}
	}
	return cm
}

// tenant creates the namespace name, a user of that name who may do anything with ConfigMaps there and nothing
// else (no cluster-wide rights), and returns her client, unthrottled like the bench's.
func (c *cluster) tenant(ctx context.Context, name string) (client.Client, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: name + "-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"*"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: name + "-configmaps"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}},
	}
	for _, obj := range []client.Object{role, binding} {
		if err := c.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, err
		}
	}
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: []string{"system:authenticated"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("adding the tenant: %w", err)
	}
	cfg := rest.CopyConfig(user.Config())
	cfg.QPS, cfg.Burst = -1, 0
	return client.New(cfg, client.Options{Scheme: operator.NewScheme()})
}

// describe says how the operator process runs, for notes.
func (p *operatorProcess) describe() string {
	if p.memoryLimit == 0 {
		return fmt.Sprintf("the %s as cluster admin, no memory limit", p.name)
	}
	return fmt.Sprintf("the operator as its pod runs it: user %s with the roles config/rbac binds, MEMORY_LIMIT=%d (%.0f MiB, "+
		"so a Go soft limit of 90%%) and no cgroup limit", operatorUser(), p.memoryLimit, mib(float64(p.memoryLimit)))
}
