package configmapsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// reconcileDelete cleans up every copy of a ConfigMapSync being deleted, following its deletionPolicy, and then
// removes the finalizer. Copies are found, not remembered, so cleanup is idempotent and picks up where it left
// off after a restart. While any copy remains, the finalizer stays. Copies to delete come from the cache plus
// live reads where the cache may lag (copiesToDelete); copies to release are listed live, since a copy missed
// there would later be deleted as an orphan rather than kept.
func (r *Reconciler) reconcileDelete(ctx context.Context, before, cms *syncv1.ConfigMapSync) error {
	if !controllerutil.ContainsFinalizer(cms, syncv1.Finalizer) {
		return nil
	}
	find, work := r.copiesToDelete, lifecycle.Cleanup{Verb: "delete", Noun: "copies", Clean: r.deleteCopy, Limit: r.MaxParallelWrites}
	if cms.Spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
		find, work.Verb, work.Clean = r.liveCopies, "release", r.releaseCopy
	}
	var err error
	if work.Objects, err = find(ctx, cms); err != nil {
		return err
	}
	if failed, err := work.Run(ctx, r.Recorder, before, cms); err != nil {
		metrics.SyncErrors.WithLabelValues(syncv1.ReasonCleanupFailed).Add(float64(failed))
		return err
	}

	// Copies written during the deletion and seen only after it are deleted as orphans (deleteOrphans), but only
	// under the Delete policy: under Orphan the store may still show a copy just released as the operator's, and
	// deleting it would lose what the policy keeps.
	if cms.Spec.DeletionPolicy != syncv1.DeletionPolicyOrphan {
		r.finalized.add(client.ObjectKeyFromObject(cms), cms.UID)
	}
	if err := lifecycle.RemoveFinalizer(ctx, r.Client, cms); err != nil {
		return err
	}
	metrics.SetCopies(client.ObjectKeyFromObject(cms), "", 0)
	logf.FromContext(ctx).Info("Cleaned up copies", "policy", cms.Spec.DeletionPolicy, "copies", len(work.Objects))
	return nil
}

// liveCopies lists every copy owned by cms straight from the API server, metadata only (a copy may hold a MiB):
// releasing copies must not miss one the store has not seen yet, nor touch an object that only claims to be one.
func (r *Reconciler) liveCopies(ctx context.Context, cms *syncv1.ConfigMapSync) ([]client.Object, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(cms.DestinationKind()) + "List"))
	owner := syncer.OwnerOf(cms)
	if err := r.APIReader.List(ctx, list, client.MatchingLabels{
		syncv1.OwnerUIDLabel: string(owner.UID), syncv1.ManagedByLabel: syncv1.ManagedByValue,
	}); err != nil {
		return nil, fmt.Errorf("listing copies: %w", err)
	}
	var out []client.Object
	for i := range list.Items {
		if v := r.Copies.View(&list.Items[i]); syncer.IsOwnedBy(v, owner) {
			out = append(out, v)
		}
	}
	return out, nil
}

// copiesToDelete returns the copies of cms to delete, without a cluster-wide list: those in the store, and, read
// live by name (metadata only), the copy in every namespace the sync writes to that the store has not shown yet:
// a copy written a moment ago may not have reached it. A copy the store only sees after its ConfigMapSync is gone
// is deleted then (deleteOrphans).
func (r *Reconciler) copiesToDelete(ctx context.Context, cms *syncv1.ConfigMapSync) ([]client.Object, error) {
	kind := string(cms.DestinationKind())
	owned, _, err := r.ownedCopies(cms, kind)
	if err != nil {
		return nil, err
	}
	targets, err := r.resolveTargets(ctx, cms)
	if err != nil {
		return nil, err
	}
	name := cms.CopyName()
	var unseen []types.NamespacedName
	for _, ns := range targets.Namespaces {
		if key := (types.NamespacedName{Namespace: ns, Name: name}); owned[key] == nil {
			unseen = append(unseen, key)
		}
	}
	found := make([]client.Object, len(unseen))
	errs := make([]error, len(unseen))
	owner := syncer.OwnerOf(cms)
	r.inParallel(len(unseen), func(i int) {
		obj := lifecycle.MetadataOf(kind)
		if err := r.APIReader.Get(ctx, unseen[i], obj); err != nil {
			errs[i] = client.IgnoreNotFound(err)
		} else if v := r.Copies.View(obj); syncer.IsOwnedBy(v, owner) {
			found[i] = v
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading copies: %w", err)
	}
	out := slices.Collect(maps.Values(owned))
	for _, obj := range found {
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out, nil
}

// deleteOrphans deletes the copies the store holds for a ConfigMapSync this process finalized: copies written
// while it was being deleted and seen by the store only after its cleanup. Only the UIDs this process cleaned up
// under that name count, and only proven copies, so an object that merely carries the operator's labels and an
// owner that does not exist is never deleted.
func (r *Reconciler) deleteOrphans(ctx context.Context, key types.NamespacedName) error {
	var orphans []client.Object
	for _, uid := range r.finalized.of(key) {
		owner := syncer.Owner{NamespacedName: key, UID: uid}
		for _, kind := range []string{syncer.KindConfigMap, syncer.KindSecret} {
			views, err := r.Copies.ByOwner(kind, uid)
			if err != nil {
				return err
			}
			for _, v := range views {
				if got, ok := syncer.OwnerKey(v); ok && got == key && syncer.IsSyncCopy(v) && syncer.IsOwnedBy(v, owner) {
					orphans = append(orphans, v)
				}
			}
		}
	}
	errs := make([]error, len(orphans))
	r.inParallel(len(orphans), func(i int) { errs[i] = r.deleteCopy(ctx, orphans[i]) })
	return errors.Join(errs...)
}
