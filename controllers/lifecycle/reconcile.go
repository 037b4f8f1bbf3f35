package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// The reconcile core every kind shares. Its shape is cluster-api's: the finalizer goes on first, with its own
// patch; the status is patched once, on the way out, only when it changed, stamping observedGeneration when the
// reconcile succeeded or failed for good; conditions, their events and cleanup on deletion work the same way for
// every kind. A kind brings only what is its own, through the kind interface.

// object is a custom resource the core reconciles: one with conditions and an observedGeneration in its status.
type object interface {
	client.Object
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// kind is one kind's part of a reconcile.
type kind[T object] interface {
	// reconcileNormal brings what obj manages in line with its spec and records the outcome in obj's status.
	reconcileNormal(ctx context.Context, before, obj T) (ctrl.Result, error)
	// reconcileDelete cleans up what obj wrote, following its deletionPolicy, and removes the finalizer when done.
	reconcileDelete(ctx context.Context, before, obj T) error
	// gone is called when the object no longer exists.
	gone(ctx context.Context, key types.NamespacedName) error
}

// reconcileObject reads the object named by req into obj and reconciles it through k.
func reconcileObject[T object](ctx context.Context, c client.Client, req ctrl.Request, obj T, k kind[T]) (_ ctrl.Result, reterr error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, k.gone(ctx, req.NamespacedName)
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
		return ctrl.Result{}, k.reconcileDelete(ctx, before, obj)
	}
	return k.reconcileNormal(ctx, before, obj)
}

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

// patchStatus patches obj's status against before, and does nothing when the status did not change, or when obj
// is gone: deleted, with the cleanup finalizer removed by this reconcile. It stamps observedGeneration when reterr
// says the reconcile is done with this generation (success, or a terminal failure). Errors join reterr.
func patchStatus(ctx context.Context, c client.Client, before, obj object, reterr *error) {
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

// maxMessage bounds a message written into status.
const maxMessage = 1024

// setCondition sets one condition of obj for its current generation.
func setCondition(obj object, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions := obj.GetConditions()
	meta.SetStatusCondition(&conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: truncate(message, maxMessage),
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
}

// removeCondition removes one condition of obj.
func removeCondition(obj object, conditionType string) {
	conditions := obj.GetConditions()
	meta.RemoveStatusCondition(&conditions, conditionType)
	obj.SetConditions(conditions)
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// recordStalled sets obj's Stalled condition from the error of a reconcile and returns its reason, "" when the
// reconcile is not stalled: InvalidSpec when the spec cannot be acted on, PermanentFailure for another failure
// retrying cannot fix. Otherwise Stalled is removed.
func recordStalled(obj object, err error) string {
	var invalid *syncer.InvalidSpecError
	switch {
	case errors.As(err, &invalid):
		setCondition(obj, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonInvalidSpec,
			"The spec cannot be acted on; fix it to continue: "+invalid.Msg)
		return syncv1.ReasonInvalidSpec
	case errors.Is(err, reconcile.TerminalError(nil)):
		setCondition(obj, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonPermanentFailure,
			fmt.Sprintf("Failed for a reason retrying will not fix; fix the cause and edit the %s to retry: %v", kindOf(obj), err))
		return syncv1.ReasonPermanentFailure
	default:
		removeCondition(obj, syncv1.StalledCondition)
		return ""
	}
}

// kindOf names the kind of obj for messages: the name of its Go type, which is the kind's.
func kindOf(obj object) string { return reflect.TypeOf(obj).Elem().Name() }

// emitConditionEvents records a Warning event when Stalled turns True, or else when Ready turns False for a new
// reason: transitions a user can act on. A retry that fails the same way again adds none. A Normal event marks
// the first Ready and every recovery.
func emitConditionEvents(rec recorder.EventRecorder, before, obj object, action string) {
	// Stalled says more than Ready when both turn bad at once: one event, not two.
	if now := meta.FindStatusCondition(obj.GetConditions(), syncv1.StalledCondition); now != nil &&
		now.Status == metav1.ConditionTrue && !meta.IsStatusConditionTrue(before.GetConditions(), syncv1.StalledCondition) {
		rec.Eventf(obj, nil, corev1.EventTypeWarning, now.Reason, action, "%s", now.Message)
		return
	}
	was := meta.FindStatusCondition(before.GetConditions(), syncv1.ReadyCondition)
	now := meta.FindStatusCondition(obj.GetConditions(), syncv1.ReadyCondition)
	switch {
	case now == nil:
	case now.Status == metav1.ConditionFalse && (was == nil || was.Status != now.Status || was.Reason != now.Reason):
		rec.Eventf(obj, nil, corev1.EventTypeWarning, now.Reason, action, "%s", now.Message)
	case now.Status == metav1.ConditionTrue && (was == nil || was.Status != metav1.ConditionTrue):
		// First Ready, or recovered: kubectl describe tells the whole story, not only the failures.
		rec.Eventf(obj, nil, corev1.EventTypeNormal, now.Reason, action, "%s", now.Message)
	}
}

// cleanup is one deletion's work: the objects an owner wrote, and what to do with each under its deletionPolicy.
type cleanup struct {
	objects []client.Object
	// clean deletes or releases one object; one already gone is fine.
	clean func(context.Context, client.Object) error
	// verb and noun describe the work in the Deleting condition: "delete", "copies".
	verb, noun string
	// limit bounds how many objects are cleaned at once.
	limit int
}

// run cleans every object. When some fail, obj's Deleting condition says how many, the first failure (not every
// retry) adds a Warning event, and the failures come back joined: the finalizer stays and the controller retries
// with backoff.
func (c cleanup) run(ctx context.Context, rec recorder.EventRecorder, before, obj object) (failed int, err error) {
	errs := make([]error, len(c.objects))
	fanOut(c.limit, len(c.objects), func(i int) { errs[i] = c.clean(ctx, c.objects[i]) })
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed == 0 {
		return 0, nil
	}
	err = errors.Join(errs...)
	setCondition(obj, syncv1.DeletingCondition, metav1.ConditionTrue, syncv1.ReasonCleanupFailed,
		fmt.Sprintf("Could not %s %d of %d %s; retrying. The %s stays until they are cleaned up: %v",
			c.verb, failed, len(c.objects), c.noun, kindOf(obj), err))
	was := meta.FindStatusCondition(before.GetConditions(), syncv1.DeletingCondition)
	if was == nil || was.Reason != syncv1.ReasonCleanupFailed {
		now := meta.FindStatusCondition(obj.GetConditions(), syncv1.DeletingCondition)
		rec.Eventf(obj, nil, corev1.EventTypeWarning, now.Reason, "Cleanup", "%s", now.Message)
	}
	return failed, err
}

// deleteOwned deletes one object the operator wrote (only the exact object read, by UID); one already gone is fine.
func deleteOwned(ctx context.Context, c client.Client, obj client.Object) error {
	uid := obj.GetUID()
	return client.IgnoreNotFound(c.Delete(ctx, asMetadata(obj), client.Preconditions{UID: &uid}))
}

// release strips the operator's ownership from an object and leaves its data and everything else on it: what the
// Orphan deletion policy leaves behind is an ordinary object nothing manages. Only the exact object read is
// patched, by UID; one already gone is fine.
func release(ctx context.Context, c client.Client, obj client.Object) error {
	target := metadataOf(kindName(obj))
	target.Namespace, target.Name = obj.GetNamespace(), obj.GetName()
	return client.IgnoreNotFound(c.Patch(ctx, target, client.RawPatch(types.MergePatchType, syncer.ReleasePatch(obj.GetUID()))))
}

// described wraps err, when there is one, with what was done to which object: kind, namespace and name, never data.
// The API server's answer about a Secret is redacted first (redacted), since its message can quote the data.
func described(action syncer.Action, obj client.Object, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", action, describe(obj), redacted(obj, err))
}

// fanOut runs fn for 0..n-1 with at most limit calls at a time.
func fanOut(limit, n int, fn func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	done := make(chan struct{}, n)
	for i := range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			fn(i)
		}()
	}
	for range n {
		<-done
	}
}

// Options tunes each controller.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind are reconciled at once.
	MaxConcurrentReconciles int
	// RetryBaseDelay and RetryMaxDelay bound the per-object exponential backoff after a failed reconcile.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// SkipNameValidation lets a test process build the controller more than once.
	SkipNameValidation bool
}

// controllerOptions turns Options into controller-runtime's. Sources start before the replica leads
// (EnableWarmup): a follower's informers and watches are listed and synced while it waits, so a new leader
// reconciles at once instead of listing every object after the old one died.
func controllerOptions(o Options) controller.Options {
	warmup := true
	return controller.Options{
		EnableWarmup:            &warmup,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.RetryBaseDelay, o.RetryMaxDelay),
		SkipNameValidation:      &o.SkipNameValidation,
	}
}

// classify makes err terminal when a retry cannot fix it.
func classify(err error) error { return classifyAll([]error{err}) }

// classifyAll joins the errors of one sync's destinations. When every failure is one a retry cannot fix, the result is
// terminal: the controller stops retrying until the ConfigMapSync changes, and the Stalled condition says why. One
// failure that a retry may fix keeps the retries going for all, whatever order the destinations came in.
func classifyAll(errs []error) error {
	joined := errors.Join(errs...)
	if joined == nil {
		return nil
	}
	for _, err := range errs {
		if err != nil && !isPermanent(err) {
			return joined
		}
	}
	return reconcile.TerminalError(joined)
}

func isPermanent(err error) bool {
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return false // The namespace is going away; the namespace watch drops it from the targets.
	}
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsRequestEntityTooLargeError(err)
}

// requestsFor lists the objects of list's kind that opts select (an index lookup, say) and returns a request for
// each: how a watch of one object maps to the custom resources it concerns. A failed list is logged and maps to none.
func requestsFor(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []reconcile.Request {
	if err := c.List(ctx, list, opts...); err != nil {
		logf.FromContext(ctx).Error(err, "Listing objects for an event", "list", fmt.Sprintf("%T", list))
		return nil
	}
	var reqs []reconcile.Request
	_ = metaEach(list, func(obj client.Object) {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	})
	return reqs
}
