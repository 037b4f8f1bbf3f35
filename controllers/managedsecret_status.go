package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// recordManagedSecretStatus writes the outcome of a reconcile into the status: the Ready and Stalled conditions
// and, once the Secret is up to date, the rotation record it holds. Nothing here is derived from a value.
func recordManagedSecretStatus(ms *syncv1.ManagedSecret, out secretOutcome, err error) {
	st := &ms.Status
	st.SecretName = secretNameOf(ms)
	terminal := errors.Is(err, reconcile.TerminalError(nil))
	var invalid *invalidSpecError
	badSpec := errors.As(err, &invalid)

	switch {
	case badSpec:
		setManagedSecretCondition(ms, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonInvalidSpec,
			"The spec cannot be acted on; fix it to continue: "+invalid.msg)
	case terminal:
		setManagedSecretCondition(ms, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonPermanentFailure,
			"The API server refused a write for a reason retrying will not fix; fix the cause and edit the ManagedSecret to retry: "+err.Error())
	default:
		meta.RemoveStatusCondition(&st.Conditions, syncv1.StalledCondition)
	}

	if p := out.plan; p != nil && err == nil {
		rec := p.record
		st.KeyCount = int32(p.keys)
		st.LastRotationTime = &metav1.Time{Time: rec.lastRotation}
		st.NextRotationTime = timeOrNil(p.nextRotation)
		st.PreviousExpiryTime = timeOrNil(p.previousExpiry)
		st.RotationCount = rec.count
		st.LastHandledRotationRequest = rec.request
	}

	switch {
	case badSpec:
		setManagedSecretCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonInvalidSpec,
			"The spec cannot be acted on; see the Stalled condition")
	case terminal:
		setManagedSecretCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonPermanentFailure,
			fmt.Sprintf("Secret %s could not be written; see the Stalled condition", st.SecretName))
	case err != nil:
		setManagedSecretCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonWriteFailed,
			fmt.Sprintf("Secret %s could not be brought up to date; retrying with backoff: %v", st.SecretName, err))
	case out.conflict:
		// What the status said about the Secret no longer describes a Secret the operator manages.
		st.KeyCount, st.NextRotationTime, st.PreviousExpiryTime = 0, nil, nil
		setManagedSecretCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonConflict,
			fmt.Sprintf("Secret %s exists and is not managed by this ManagedSecret; it is left unchanged, and the Secret is generated once it is gone",
				st.SecretName))
	default:
		setManagedSecretCondition(ms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSecretReady,
			fmt.Sprintf("Secret %s holds the %d keys of the spec", st.SecretName, st.KeyCount))
	}
}

// recordManagedSecretMetrics counts a written rotation, or a failure by the reason the Ready condition now gives,
// and updates the ManagedSecret's next rotation. After a failure the old schedule stays, so an overdue rotation
// shows in managedsecret_next_rotation_timestamp_seconds.
func recordManagedSecretMetrics(ms *syncv1.ManagedSecret, out secretOutcome, err error) {
	key := client.ObjectKeyFromObject(ms)
	if ready := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition); ready != nil && ready.Status == metav1.ConditionFalse {
		metrics.ManagedSecretFailures.WithLabelValues(ready.Reason).Inc()
	}
	switch {
	case out.conflict:
		metrics.SetNextRotation(key, time.Time{})
	case err == nil && out.plan != nil:
		if out.plan.rotated && out.action != syncer.ActionNone {
			metrics.Rotations.Inc()
		}
		var next time.Time
		if out.plan.nextRotation != nil {
			next = *out.plan.nextRotation
		}
		metrics.SetNextRotation(key, next)
	}
}

func timeOrNil(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}

func setManagedSecretCondition(ms *syncv1.ManagedSecret, t string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&ms.Status.Conditions, metav1.Condition{
		Type: t, Status: status, Reason: reason, Message: truncate(message), ObservedGeneration: ms.Generation,
	})
}

// emitManagedSecretEvents records a Warning event when Ready turns False for a new reason or Stalled turns True
// (a retry failing the same way adds none), and a Normal event for every rotation written.
func (r *ManagedSecretReconciler) emitManagedSecretEvents(before, ms *syncv1.ManagedSecret, out secretOutcome) {
	was := meta.FindStatusCondition(before.Status.Conditions, syncv1.ReadyCondition)
	if now := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition); now != nil &&
		now.Status == metav1.ConditionFalse && (was == nil || was.Status != now.Status || was.Reason != now.Reason) {
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, now.Reason, "Generate", "%s", now.Message)
	}
	if now := meta.FindStatusCondition(ms.Status.Conditions, syncv1.StalledCondition); now != nil &&
		now.Status == metav1.ConditionTrue && !meta.IsStatusConditionTrue(before.Status.Conditions, syncv1.StalledCondition) {
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, now.Reason, "Generate", "%s", now.Message)
	}
	if p := out.plan; p != nil && p.rotated && out.action != syncer.ActionNone {
		how := "as scheduled"
		if p.requested {
			how = fmt.Sprintf("on request %q", shortened(p.record.request, 64))
		}
		r.Recorder.Eventf(ms, nil, corev1.EventTypeNormal, syncv1.EventReasonRotated, "Rotate",
			"Rotated the generated keys of Secret %s %s (rotation %d)", ms.Status.SecretName, how, p.record.count)
	}
}

// shortened cuts s to at most n bytes (an annotation value can be long; an event note cannot).
func shortened(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// emitManagedSecretCleanupEvent records a Warning event the first time cleanup fails (not on every retry).
func (r *ManagedSecretReconciler) emitManagedSecretCleanupEvent(before, ms *syncv1.ManagedSecret) {
	c := meta.FindStatusCondition(ms.Status.Conditions, syncv1.DeletingCondition)
	was := meta.FindStatusCondition(before.Status.Conditions, syncv1.DeletingCondition)
	if c != nil && (was == nil || was.Reason != c.Reason) {
		r.Recorder.Eventf(ms, nil, corev1.EventTypeWarning, c.Reason, "Cleanup", "%s", c.Message)
	}
}

// logManagedSecretOutcome logs a write, with key names and never values; a reconcile that writes nothing logs
// nothing.
func logManagedSecretOutcome(ctx context.Context, ms *syncv1.ManagedSecret, out secretOutcome) {
	p := out.plan
	if p == nil || out.action == syncer.ActionNone {
		return
	}
	logf.FromContext(ctx).Info("Wrote the generated Secret", "action", out.action, "secret", ms.Status.SecretName,
		"rotated", p.rotated, "rotation", p.record.count, "generatedKeys", p.generated)
}
