package lifecycle

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Cleanup is one deletion's work: the objects an owner wrote, and what to do with each under its deletionPolicy.
type Cleanup struct {
	Objects []client.Object
	// Clean deletes or releases one object; one already gone is fine.
	Clean func(context.Context, client.Object) error
	// Verb and Noun describe the work in the Deleting condition: "delete", "copies".
	Verb, Noun string
	// Limit bounds how many objects are cleaned at once.
	Limit int
}

// Run cleans every object. When some fail, obj's Deleting condition says how many, the first failure (not every
// retry) adds a Warning event, and the failures come back joined: the finalizer stays and the controller retries
// with backoff.
func (c Cleanup) Run(ctx context.Context, rec recorder.EventRecorder, before, obj Object) (failed int, err error) {
	errs := make([]error, len(c.Objects))
	FanOut(c.Limit, len(c.Objects), func(i int) { errs[i] = c.Clean(ctx, c.Objects[i]) })
	for _, err := range errs {
		if err != nil {
			failed++
		}
	}
	if failed == 0 {
		return 0, nil
	}
	err = errors.Join(errs...)
	SetCondition(obj, syncv1.DeletingCondition, metav1.ConditionTrue, syncv1.ReasonCleanupFailed,
		fmt.Sprintf("Could not %s %d of %d %s; retrying. The %s stays until they are cleaned up: %v",
			c.Verb, failed, len(c.Objects), c.Noun, kindOf(obj), err))
	was := meta.FindStatusCondition(before.GetConditions(), syncv1.DeletingCondition)
	if was == nil || was.Reason != syncv1.ReasonCleanupFailed {
		now := meta.FindStatusCondition(obj.GetConditions(), syncv1.DeletingCondition)
		rec.Eventf(obj, nil, corev1.EventTypeWarning, now.Reason, "Cleanup", "%s", now.Message)
	}
	return failed, err
}

// DeleteOwned deletes one object the operator wrote (only the exact object read, by UID); one already gone is fine.
func DeleteOwned(ctx context.Context, c client.Client, obj client.Object) error {
	uid := obj.GetUID()
	return client.IgnoreNotFound(c.Delete(ctx, asMetadata(obj), client.Preconditions{UID: &uid}))
}

// Release strips the operator's ownership from an object and leaves its data and everything else on it: what the
// Orphan deletion policy leaves behind is an ordinary object nothing manages. Only the exact object read is
// patched, by UID; one already gone is fine.
func Release(ctx context.Context, c client.Client, obj client.Object) error {
	target := MetadataOf(KindName(obj))
	target.Namespace, target.Name = obj.GetNamespace(), obj.GetName()
	return client.IgnoreNotFound(c.Patch(ctx, target, client.RawPatch(types.MergePatchType, syncer.ReleasePatch(obj.GetUID()))))
}

// FanOut runs fn for 0..n-1 with at most limit calls at a time.
func FanOut(limit, n int, fn func(i int)) {
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
