package controllers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The reconcile shape both controllers share (cluster-api's): the finalizer goes on first, with its own patch,
// and the status is patched once, on the way out, only when it changed, stamping observedGeneration when the
// reconcile succeeded or failed for good.

// ensureFinalizer adds the cleanup finalizer to a live object. The optimistic lock keeps a concurrent change to
// the finalizers list (another controller's) from being overwritten.
func ensureFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	if !obj.GetDeletionTimestamp().IsZero() || controllerutil.ContainsFinalizer(obj, syncv1.Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.AddFinalizer(obj, syncv1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding finalizer: %w", err)
	}
	return nil
}

// removeFinalizer removes the cleanup finalizer once cleanup is done. An object already gone has no finalizer
// left to remove (a reconcile from a cache that had not yet seen the removal).
func removeFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, syncv1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	return nil
}

// patchStatus patches obj's status against before, and does nothing when status(before) and status(obj) are
// equal, or when obj is gone: deleted, with the cleanup finalizer removed by this reconcile. observe stamps
// observedGeneration; it is called when reterr says the reconcile is done with this generation (success, or a
// terminal failure). Errors join reterr.
func patchStatus(ctx context.Context, c client.Client, before, obj client.Object, status func(client.Object) any,
	observe func(), reterr *error) {
	if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, syncv1.Finalizer) {
		return
	}
	if *reterr == nil || errors.Is(*reterr, reconcile.TerminalError(nil)) {
		observe()
	}
	if equality.Semantic.DeepEqual(status(before), status(obj)) {
		return
	}
	if err := c.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
		*reterr = errors.Join(*reterr, fmt.Errorf("patching status: %w", err))
	}
}

// controllerOptions turns Options into controller-runtime's. Sources start before the replica leads
// (EnableWarmup): a follower's informers and watches are listed and synced while it waits, so a new leader
// reconciles at once instead of listing every ConfigMapSync and copy after the old one died.
func controllerOptions(o Options) controller.Options {
	warmup := true
	return controller.Options{
		EnableWarmup:            &warmup,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.RetryBaseDelay, o.RetryMaxDelay),
		SkipNameValidation:      &o.SkipNameValidation,
	}
}
