package controllers

import (
	"context"

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
	find, work := r.copiesToDelete, cleanup{verb: "delete", noun: "copies", clean: r.deleteCopy, limit: r.FanOut}
	if cms.Spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
		find, work.verb, work.clean = r.liveCopies, "release", r.releaseCopy
	}
	var err error
	if work.objects, err = find(ctx, cms); err != nil {
		return err
	}
	if failed, err := work.run(ctx, r.Recorder, before, cms); err != nil {
		metrics.SyncErrors.WithLabelValues(syncv1.ReasonCleanupFailed).Add(float64(failed))
		return err
	}

	// Copies written during the deletion and seen only after it are deleted as orphans (deleteOrphans), but only
	// under the Delete policy: under Orphan the store may still show a copy just released as the operator's, and
	// deleting it would lose what the policy keeps.
	if cms.Spec.DeletionPolicy != syncv1.DeletionPolicyOrphan {
		r.finalized.add(client.ObjectKeyFromObject(cms), cms.UID)
	}
	if err := removeFinalizer(ctx, r.Client, cms); err != nil {
		return err
	}
	metrics.SetCopies(client.ObjectKeyFromObject(cms), "", 0)
	logf.FromContext(ctx).Info("Cleaned up copies", "policy", cms.Spec.DeletionPolicy, "copies", len(work.objects))
	return nil
}
