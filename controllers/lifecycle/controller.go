package lifecycle

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Options tunes each controller.
type Options struct {
	// MaxConcurrentReconciles is how many objects of one kind are reconciled at once.
	MaxConcurrentReconciles int
	// RetryBaseDelay and RetryMaxDelay bound the per-object exponential backoff after a failed reconcile.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// SkipNameValidation lets a test process build the controller more than once.
	SkipNameValidation bool
}

// ControllerOptions turns Options into controller-runtime's. Sources start before the replica leads
// (EnableWarmup): a follower's informers and watches are listed and synced while it waits, so a new leader
// reconciles at once instead of listing every object after the old one died.
func ControllerOptions(o Options) controller.Options {
	warmup := true
	return controller.Options{
		EnableWarmup:            &warmup,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](o.RetryBaseDelay, o.RetryMaxDelay),
		SkipNameValidation:      &o.SkipNameValidation,
	}
}

// RequestsFor lists the objects of list's kind that opts select (an index lookup, say) and returns a request for
// each: how a watch of one object maps to the custom resources it concerns. A failed list is logged and maps to none.
func RequestsFor(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []reconcile.Request {
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
