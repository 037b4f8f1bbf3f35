package lifecycle

import (
	"errors"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// MaxMessage bounds a message written into status.
const MaxMessage = 1024

// SetCondition sets one condition of obj for its current generation.
func SetCondition(obj Object, conditionType string, status metav1.ConditionStatus, reason, message string) {
	conditions := obj.GetConditions()
	meta.SetStatusCondition(&conditions, metav1.Condition{
		Type: conditionType, Status: status, Reason: reason, Message: Truncate(message, MaxMessage),
		ObservedGeneration: obj.GetGeneration(),
	})
	obj.SetConditions(conditions)
}

// RemoveCondition removes one condition of obj.
func RemoveCondition(obj Object, conditionType string) {
	conditions := obj.GetConditions()
	meta.RemoveStatusCondition(&conditions, conditionType)
	obj.SetConditions(conditions)
}

// Truncate cuts s to at most n bytes.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// RecordStalled sets obj's Stalled condition from the error of a reconcile and returns its reason, "" when the
// reconcile is not stalled: InvalidSpec when the spec cannot be acted on, PermanentFailure for another failure
// retrying cannot fix. Otherwise Stalled is removed.
func RecordStalled(obj Object, err error) string {
	var invalid *syncer.InvalidSpecError
	switch {
	case errors.As(err, &invalid):
		SetCondition(obj, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonInvalidSpec,
			"The spec cannot be acted on; fix it to continue: "+invalid.Msg)
		return syncv1.ReasonInvalidSpec
	case errors.Is(err, reconcile.TerminalError(nil)):
		SetCondition(obj, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonPermanentFailure,
			fmt.Sprintf("Failed for a reason retrying will not fix; fix the cause and edit the %s to retry: %v", kindOf(obj), err))
		return syncv1.ReasonPermanentFailure
	default:
		RemoveCondition(obj, syncv1.StalledCondition)
		return ""
	}
}

// kindOf names the kind of obj for messages: the name of its Go type, which is the kind's.
func kindOf(obj Object) string { return reflect.TypeOf(obj).Elem().Name() }

// EmitConditionEvents records a Warning event when Stalled turns True, or else when Ready turns False for a new
// reason: transitions a user can act on. A retry that fails the same way again adds none. A Normal event marks
// the first Ready and every recovery.
func EmitConditionEvents(rec recorder.EventRecorder, before, obj Object, action string) {
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
