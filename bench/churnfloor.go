package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The churn scenario's floor (issue 32): what the operator's API work for a ConfigMapSync of one copy costs when a
// client does it directly, through the same admission webhooks. Per ConfigMapSync: create it (the mutating and
// validating webhooks, served by the operator), add the cleanup finalizer, create its copy, patch its status to
// Ready; then delete it, delete its copy and remove the finalizer. The operator serves the webhooks but does not
// reconcile meanwhile: the bench holds its Lease.

// Targets of the churn scenario against its floor (issue 32).
const (
	churnFloorRatio     = 1.5
	churnCPULimitMillis = 2.5
)

// operatorCPUMillis is the operator's CPU time between before and after, per object, in milliseconds.
func operatorCPUMillis(before, after cpuTimes, n int) float64 {
	return float64(after["operator"]-before["operator"]) / float64(n) / float64(time.Millisecond)
}

// floorNamespace holds the floor's ConfigMapSyncs, apart from the operator's (the watcher counts those).
const floorNamespace = "churn-floor"

// floorHolder is the Lease holder the bench writes while it measures the floor.
const floorHolder = "bench-churn-floor"

// floorValue marks the floor's copies (the watcher counts copies by value).
const floorValue = "floor"

// churnFloor measures the floor for n ConfigMapSyncs whose copies go to dest, and returns the time to create them
// all (each with its finalizer, copy and status) and to delete them all (each with its copy and finalizer).
func (b *bench) churnFloor(ctx context.Context, n int, dest []string) (create, remove time.Duration, err error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: floorNamespace}}
	if err := b.c.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return 0, 0, err
	}
	if err := b.followWhile(ctx, func() error {
		create, remove, err = b.floorRound(ctx, n, dest)
		return err
	}); err != nil {
		return 0, 0, err
	}
	return create, remove, err
}

// floorRound creates and deletes the floor's n ConfigMapSyncs.
func (b *bench) floorRound(ctx context.Context, n int, dest []string) (time.Duration, time.Duration, error) {
	c := b.c.client
	syncOf := func(i int) *syncv1.ConfigMapSync {
		return newSync(floorNamespace, fmt.Sprintf("floor-%d", i), "churn-source",
			syncv1.Destination{Namespaces: []string{dest[i%len(dest)]}, Name: fmt.Sprintf("floor-copy-%d", i)}, "")
	}
	copyOf := func(i int, owner *syncv1.ConfigMapSync) *corev1.ConfigMap {
		cm := configMap(dest[i%len(dest)], fmt.Sprintf("floor-copy-%d", i), floorValue)
		cm.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: string(owner.UID)}
		cm.Annotations = map[string]string{ // As many bytes as the operator's: a hash, the owner and a proof.
			syncv1.OwnerAnnotation:          owner.Namespace + "/" + owner.Name,
			syncv1.ContentHashAnnotation:    strings.Repeat("0", 64),
			syncv1.ContentChangedAnnotation: time.Now().UTC().Format(time.RFC3339),
			syncv1.OwnershipProofAnnotation: "k1:" + strings.Repeat("0", 64),
			syncv1.SourceKeysAnnotation:     "",
		}
		return cm
	}
	create, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error {
			cms := syncOf(i)
			if err := c.Create(ctx, cms); err != nil {
				return fmt.Errorf("creating %s: %w", cms.Name, err)
			}
			if err := patchFinalizers(ctx, c, cms, []string{syncv1.Finalizer}); err != nil {
				return err
			}
			if err := c.Create(ctx, copyOf(i, cms)); err != nil {
				return fmt.Errorf("creating the copy of %s: %w", cms.Name, err)
			}
			return patchReady(ctx, c, cms)
		})
	})
	if err != nil {
		return 0, 0, err
	}
	remove, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error {
			cms := syncOf(i)
			if err := c.Delete(ctx, cms); err != nil {
				return fmt.Errorf("deleting %s: %w", cms.Name, err)
			}
			if err := c.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: dest[i%len(dest)],
				Name: fmt.Sprintf("floor-copy-%d", i)}}); err != nil {
				return fmt.Errorf("deleting the copy of %s: %w", cms.Name, err)
			}
			return patchFinalizers(ctx, c, cms, nil)
		})
	})
	return create, remove, err
}

// patchFinalizers sets obj's finalizers with a merge patch, as the operator's lifecycle does.
func patchFinalizers(ctx context.Context, c client.Client, obj *syncv1.ConfigMapSync, finalizers []string) error {
	raw, err := json.Marshal(map[string]any{"metadata": map[string]any{"finalizers": finalizers}})
	if err != nil {
		return err
	}
	if err := c.Patch(ctx, obj, client.RawPatch(client.Merge.Type(), raw)); err != nil {
		return fmt.Errorf("patching the finalizers of %s: %w", obj.Name, err)
	}
	return nil
}

// patchReady writes the status the operator writes after a first sync of one copy, with a merge patch.
func patchReady(ctx context.Context, c client.Client, cms *syncv1.ConfigMapSync) error {
	now := metav1.Now()
	status := syncv1.ConfigMapSyncStatus{
		ObservedGeneration: cms.Generation, LastSyncTime: &now, SyncStatus: syncv1.SyncStatusSynced,
		DesiredDestinations: 1, SyncedDestinations: 1,
		Destinations: []syncv1.DestinationStatus{{Namespace: cms.Spec.Destination.Namespaces[0], State: syncv1.DestinationSynced}},
		Conditions: []metav1.Condition{{Type: syncv1.ReadyCondition, Status: metav1.ConditionTrue, Reason: syncv1.SyncStatusSynced,
			Message: "1 of 1 destinations synced", ObservedGeneration: cms.Generation, LastTransitionTime: now}},
	}
	raw, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	if err := c.Status().Patch(ctx, cms, client.RawPatch(client.Merge.Type(), raw)); err != nil {
		return fmt.Errorf("patching the status of %s: %w", cms.Name, err)
	}
	return nil
}

// followWhile runs fn while the operator serves its webhooks without reconciling: it stops the operator (which
// releases its Lease), writes the Lease under floorHolder, starts the operator again (a follower: its webhooks
// serve, its controllers wait), runs fn, then releases the Lease and waits until the operator leads again.
func (b *bench) followWhile(ctx context.Context, fn func() error) error {
	b.retire()
	if err := b.holdLease(ctx, floorHolder); err != nil {
		return err
	}
	op, err := startOperator(b.c, b.cfg.manager, b.cfg.operatorArgs)
	if err != nil {
		return err
	}
	b.op = op
	if err := op.waitServing(ctx); err != nil {
		return err
	}
	fnErr := fn()
	if err := b.c.clientset.CoordinationV1().Leases(leaseNamespace).Delete(ctx, leaseName, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("releasing the Lease: %w", err)
	}
	if err := op.waitReady(ctx, b.c, floorHolder); err != nil {
		return err
	}
	return fnErr
}

// holdLease writes the operator's Lease under holder, for an hour, whoever held it.
func (b *bench) holdLease(ctx context.Context, holder string) error {
	leases := b.c.clientset.CoordinationV1().Leases(leaseNamespace)
	now := metav1.NowMicro()
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](3600),
		AcquireTime: &now, RenewTime: &now}
	lease, err := leases.Get(ctx, leaseName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: leaseName, Namespace: leaseNamespace},
			Spec: spec}, metav1.CreateOptions{})
	case err == nil:
		lease.Spec = spec
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("holding the Lease: %w", err)
	}
	return nil
}
