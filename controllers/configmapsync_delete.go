package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
)

// reconcileDelete cleans up every copy of a ConfigMapSync being deleted, following its deletionPolicy, and then
// removes the finalizer. Copies are found, not remembered, so cleanup is idempotent and picks up where it left
// off after a restart. While any copy remains, the finalizer stays. Copies to delete come from the cache plus
// live reads where the cache may lag (copiesToDelete); copies to release are listed live, since a copy missed
// there would later be deleted as an orphan rather than kept.
func (r *ConfigMapSyncReconciler) reconcileDelete(ctx context.Context, before, cms *syncv1.ConfigMapSync) error {
	if !controllerutil.ContainsFinalizer(cms, syncv1.Finalizer) {
		return nil
	}
	find, cleanup, verb := r.copiesToDelete, r.deleteCopy, "delete"
	if cms.Spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
		find, cleanup, verb = r.liveCopies, r.releaseCopy, "release"
	}
	copies, err := find(ctx, cms)
	if err != nil {
		return err
	}
	errs := make([]error, len(copies))
	r.fanOut(len(copies), func(i int) { errs[i] = cleanup(ctx, copies[i]) })

	failed := 0
	for _, err := range errs {
		if err != nil {
			failed++
			metrics.SyncErrors.WithLabelValues("CleanupFailed").Inc()
		}
	}
	if failed > 0 {
		meta.SetStatusCondition(&cms.Status.Conditions, metav1.Condition{
			Type: syncv1.DeletingCondition, Status: metav1.ConditionFalse, ObservedGeneration: cms.Generation,
			Reason:  syncv1.ReasonCleanupFailed,
			Message: fmt.Sprintf("Could not %s %d of %d copies; retrying. The ConfigMapSync stays until they are cleaned up.", verb, failed, len(copies)),
		})
		r.emitCleanupEvent(before, cms)
		return errors.Join(errs...)
	}

	r.finalized.add(client.ObjectKeyFromObject(cms), cms.UID)
	if err := removeFinalizer(ctx, r.Client, cms); err != nil {
		return err
	}
	metrics.SetCopies(client.ObjectKeyFromObject(cms), "", 0)
	logf.FromContext(ctx).Info("Cleaned up copies", "policy", cms.Spec.DeletionPolicy, "copies", len(copies))
	return nil
}

// emitCleanupEvent records a Warning event the first time cleanup fails (not on every retry).
func (r *ConfigMapSyncReconciler) emitCleanupEvent(before, cms *syncv1.ConfigMapSync) {
	c := meta.FindStatusCondition(cms.Status.Conditions, syncv1.DeletingCondition)
	was := meta.FindStatusCondition(before.Status.Conditions, syncv1.DeletingCondition)
	if was == nil || was.Reason != c.Reason {
		r.Recorder.Eventf(cms, nil, "Warning", c.Reason, "Cleanup", "%s", c.Message)
	}
}
