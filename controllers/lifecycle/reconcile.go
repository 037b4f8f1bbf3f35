// Package lifecycle owns what every kind's reconcile shares, in cluster-api's shape: the cleanup finalizer (added
// here, and only here, before anything is written; removed by a kind once its cleanup is done), the one status patch
// per reconcile with observedGeneration, the Ready/Stalled/Deleting conditions and their events, the cleanup of what
// an object wrote under its deletionPolicy, and the classification of errors into retried and terminal. A kind
// (controllers/configmapsync, controllers/managedsecret) brings only its own steps, through Steps.
package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// Object is a custom resource the lifecycle reconciles: one with conditions and an observedGeneration in its status.
type Object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// Steps are one kind's part of a reconcile; Reconcile does the rest.
type Steps[T Object] struct {
	// Normal brings what obj manages in line with its spec and records the outcome in obj's status.
	Normal func(ctx context.Context, before, obj T) (ctrl.Result, error)
	// Delete cleans up what obj wrote, following its deletionPolicy, and removes the finalizer when done
	// (RemoveFinalizer).
	Delete func(ctx context.Context, before, obj T) error
	// Gone is called when the object no longer exists.
	Gone func(ctx context.Context, key types.NamespacedName) error
}

// Reconcile reads the object named by req into obj and reconciles it through steps: the finalizer goes on first,
// with its own patch; the status is patched once, on the way out, only when it changed.
func Reconcile[T Object](ctx context.Context, c client.Client, req ctrl.Request, obj T, steps Steps[T]) (_ ctrl.Result, reterr error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, steps.Gone(ctx, req.NamespacedName)
		}
		return ctrl.Result{}, err
	}

	// The finalizer goes on before anything is written, so that nothing written can outlive the object.
	if err := ensureFinalizer(ctx, c, obj); err != nil {
		return ctrl.Result{}, err
	}

	// One status patch per reconcile, whatever path it takes, and none when nothing changed.
	before := obj.DeepCopyObject().(T)
	defer patchStatus(ctx, c, before, obj, &reterr)

	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrl.Result{}, steps.Delete(ctx, before, obj)
	}
	return steps.Normal(ctx, before, obj)
}

// ensureFinalizer adds the cleanup finalizer to a live object. The optimistic lock keeps a concurrent change to
// the finalizers list (another controller's) from being overwritten.
//
// This is the finalizer's one owner. The mutating webhook used to add it on create as well, to save this patch;
// but the webhook does not see every object (webhooks off, a ManagedSecret, an object created while the webhook
// was down or before it was installed), so this step had to stay anyway, and two owners meant two rules to keep
// in step. The cost is one patch per new object, made once in its life.
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

// RemoveFinalizer removes the cleanup finalizer once cleanup is done. An object already gone has no finalizer
// left to remove (a reconcile from a cache that had not yet seen the removal).
func RemoveFinalizer(ctx context.Context, c client.Client, obj client.Object) error {
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, syncv1.Finalizer)
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing finalizer: %w", err)
	}
	return nil
}

// patchStatus patches obj's status against before, and does nothing when the status did not change, or when obj
// is gone: deleted, with the cleanup finalizer removed by this reconcile. It stamps observedGeneration when reterr
// says the reconcile is done with this generation (success, or a terminal failure). Errors join reterr.
func patchStatus(ctx context.Context, c client.Client, before, obj Object, reterr *error) {
	if !obj.GetDeletionTimestamp().IsZero() && !controllerutil.ContainsFinalizer(obj, syncv1.Finalizer) {
		return
	}
	if *reterr == nil || errors.Is(*reterr, reconcile.TerminalError(nil)) {
		obj.SetObservedGeneration(obj.GetGeneration())
	}
	patch, changed, err := statusPatch(before, obj)
	if err == nil && changed {
		err = c.Status().Patch(ctx, obj, patch)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		*reterr = errors.Join(*reterr, fmt.Errorf("patching status: %w", err))
	}
}

// statusPatch returns the merge patch from before to obj, computed once, and whether it changes the status: the
// patch the API server would get decides, not a comparison of Go values.
func statusPatch(before, obj client.Object) (client.Patch, bool, error) {
	data, err := client.MergeFrom(before).Data(obj)
	if err != nil {
		return nil, false, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return nil, false, err
	}
	_, ok := fields["status"]
	return client.RawPatch(types.MergePatchType, data), ok, nil
}
