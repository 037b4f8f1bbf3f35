package managedsecret

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// recordStatus writes the outcome of a reconcile into the status: the Ready and Stalled conditions
// and, once the Secret is up to date, the rotation record it holds. Nothing here is derived from a value.
func recordStatus(ms *syncv1.ManagedSecret, out secretOutcome, err error) {
	st := &ms.Status
	st.SecretName = ms.SecretName()
	stalled := lifecycle.RecordStalled(ms, err)

	if p := out.plan; p != nil && err == nil {
		rec := p.Record
		st.KeyCount = int32(p.Keys)
		st.LastRotationTime = &metav1.Time{Time: rec.LastRotation}
		st.NextRotationTime = timeOrNil(p.NextRotation)
		st.PreviousExpiryTime = timeOrNil(p.PreviousExpiry)
		st.RotationCount = rec.Count
		st.LastHandledRotationRequest = rec.Request
	}

	switch {
	case stalled == syncv1.ReasonInvalidSpec:
		lifecycle.SetCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, stalled,
			"The spec cannot be acted on; see the Stalled condition")
	case stalled != "":
		lifecycle.SetCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, stalled,
			fmt.Sprintf("Secret %s could not be written; see the Stalled condition", st.SecretName))
	case err != nil:
		lifecycle.SetCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonWriteFailed,
			fmt.Sprintf("Secret %s could not be brought up to date; retrying with backoff: %v", st.SecretName, err))
	case out.conflict:
		// What the status said about the Secret no longer describes a Secret the operator manages.
		st.KeyCount, st.NextRotationTime, st.PreviousExpiryTime = 0, nil, nil
		lifecycle.SetCondition(ms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonConflict,
			fmt.Sprintf("Secret %s exists and is not managed by this ManagedSecret; it is left unchanged, and the Secret is generated once it is gone",
				st.SecretName))
	default:
		lifecycle.SetCondition(ms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSecretReady,
			fmt.Sprintf("Secret %s holds the %d keys of the spec", st.SecretName, st.KeyCount))
	}
}

// recordMetrics counts a written rotation, or a failure by the reason the Ready condition now gives,
// and updates the ManagedSecret's next rotation. After a failure the old schedule stays, so an overdue rotation
// shows in managedsecret_next_rotation_timestamp_seconds.
func recordMetrics(ms *syncv1.ManagedSecret, out secretOutcome, err error) {
	key := client.ObjectKeyFromObject(ms)
	if ready := meta.FindStatusCondition(ms.Status.Conditions, syncv1.ReadyCondition); ready != nil && ready.Status == metav1.ConditionFalse {
		metrics.ManagedSecretFailures.WithLabelValues(ready.Reason).Inc()
	}
	switch {
	case out.conflict:
		metrics.SetNextRotation(key, time.Time{})
	case err == nil && out.plan != nil:
		if out.plan.Rotated && out.action != syncer.ActionNone {
			metrics.Rotations.Inc()
		}
		var next time.Time
		if out.plan.NextRotation != nil {
			next = *out.plan.NextRotation
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

// emitEvents records the Warning events of condition transitions, and a Normal event for every
// rotation written.
func (r *Reconciler) emitEvents(before, ms *syncv1.ManagedSecret, out secretOutcome) {
	lifecycle.EmitConditionEvents(r.Recorder, before, ms, "Generate")
	if p := out.plan; p != nil && p.Rotated && out.action != syncer.ActionNone {
		how := "as scheduled"
		if p.Requested {
			how = fmt.Sprintf("on request %q", lifecycle.Truncate(p.Record.Request, 64))
		}
		r.Recorder.Eventf(ms, nil, corev1.EventTypeNormal, syncv1.EventReasonRotated, "Rotate",
			"Rotated the generated keys of Secret %s %s (rotation %d)", ms.Status.SecretName, how, p.Record.Count)
	}
}

// logOutcome logs a write, with key names and never values; a reconcile that writes nothing logs
// nothing.
func logOutcome(ctx context.Context, ms *syncv1.ManagedSecret, out secretOutcome) {
	p := out.plan
	if p == nil || out.action == syncer.ActionNone {
		return
	}
	logf.FromContext(ctx).Info("Wrote the generated Secret", "action", out.action, "secret", ms.Status.SecretName,
		"rotated", p.Rotated, "rotation", p.Record.Count, "generatedKeys", p.Generated)
}
