package configmapsync

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// maxDestinationStatuses bounds status.destinations so a sync into thousands of namespaces keeps a small status.
const maxDestinationStatuses = 50

// recordStatus writes the outcome of a sync into the status: counts, the per-destination list, the Ready and
// Stalled conditions, and the v1beta1 summary fields syncStatus and lastSyncTime.
func recordStatus(cms *syncv1.ConfigMapSync, out outcome, err error, now time.Time) {
	st := &cms.Status
	stalled := lifecycle.RecordStalled(cms, err)
	if request := cms.Annotations[syncv1.SyncNowAnnotation]; request != "" && (err == nil || stalled != "") {
		st.LastHandledSyncRequest = request
	}

	if out.sourceMissing {
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSourceNotFound,
			fmt.Sprintf("%s %s/%s does not exist; existing copies are kept and synced when it returns",
				cms.SourceKind(), cms.SourceNamespace(), cms.Spec.Source.Name))
		st.SyncStatus = syncv1.SyncStatusSourceNotFound
		return
	}

	if len(out.access.source) > 0 {
		recordSourceRevoked(cms, out.access)
		return
	}
	defer noteUnchecked(cms, out.access)

	recordKeys(cms, out.keys)
	synced, conflicts, failed, forbidden := recordDestinations(st, out, err)

	wasReady := meta.IsStatusConditionTrue(st.Conditions, syncv1.ReadyCondition)
	total := len(out.destinations)
	switch {
	case stalled != "":
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, stalled,
			fmt.Sprintf("%d of %d destinations are synced; see the Stalled condition", synced, total))
		st.SyncStatus = syncv1.SyncStatusFailed
	case err != nil && total == 0:
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed,
			"The sync failed before reaching the destinations; retrying with backoff: "+err.Error())
		st.SyncStatus = syncv1.SyncStatusFailed
	case err != nil:
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed,
			fmt.Sprintf("%d of %d destinations failed to sync; retrying with backoff", failed, total))
		st.SyncStatus = syncv1.SyncStatusFailed
		if synced > 0 {
			st.SyncStatus = syncv1.SyncStatusPartiallySynced
		}
	case forbidden > 0:
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonAccessRevoked,
			fmt.Sprintf("%d of %d destinations are synced; the requester %q may no longer write in %d (or delete the copies no longer wanted there), "+
				"where nothing is written and the copies are kept: see status.destinations for the missing permissions",
				synced, total, out.access.user, forbidden))
		st.SyncStatus = syncv1.SyncStatusFailed
		if synced > 0 {
			st.SyncStatus = syncv1.SyncStatusPartiallySynced
		}
	case conflicts > 0:
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonConflict,
			fmt.Sprintf("%d of %d destinations hold an object of the same name that this ConfigMapSync does not own; it was left unchanged and is synced once it is gone",
				conflicts, total))
		st.SyncStatus = syncv1.SyncStatusConflict
	default:
		msg := fmt.Sprintf("%d of %d destinations hold an up-to-date copy", synced, total)
		if n := len(out.missing); n > 0 {
			msg += fmt.Sprintf("; %d listed namespaces do not exist yet", n)
		}
		if n := len(out.excluded); n > 0 {
			msg += fmt.Sprintf("; %d listed namespaces are excluded", n)
		}
		lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced, msg)
		st.SyncStatus = syncv1.SyncStatusSynced
		// lastSyncTime moves when copies were written or first found in sync, not on every unchanged resync:
		// a resync that changes nothing writes nothing, status included.
		if out.writes > 0 || !wasReady || st.LastSyncTime == nil {
			st.LastSyncTime = &metav1.Time{Time: now}
		}
	}
}

// recordDestinations writes the per-destination list and counts into the status, and returns the counts. A sync
// that failed before reaching any destination (reading the source, listing namespaces) leaves those of the last
// sync as they were.
func recordDestinations(st *syncv1.ConfigMapSyncStatus, out outcome, err error) (synced, conflicts, failed, forbidden int) {
	dests, synced, conflicts, failed, forbidden := destinationStatuses(out)
	if err == nil || len(out.destinations) > 0 {
		st.Destinations = dests
		st.DesiredDestinations = int32(len(out.destinations))
		st.SyncedDestinations = int32(synced)
		st.FailedDestinations = int32(conflicts + failed + forbidden - len(out.kept))
	}
	return synced, conflicts, failed, forbidden
}

// destinationStatuses lists the destinations that need attention first, then the synced ones, up to
// maxDestinationStatuses, and counts each state.
func destinationStatuses(out outcome) (list []syncv1.DestinationStatus, synced, conflicts, failed, forbidden int) {
	for _, d := range slices.Concat(out.destinations, out.kept) {
		s := syncv1.DestinationStatus{Namespace: d.namespace, State: syncv1.DestinationSynced}
		switch {
		case d.forbidden != nil:
			s.State, s.Message = syncv1.DestinationForbidden, lifecycle.Truncate(forbiddenMessage(out.access.user, d), lifecycle.MaxMessage)
			forbidden++
		case d.err != nil:
			s.State, s.Message = syncv1.DestinationFailed, lifecycle.Truncate(d.err.Error(), lifecycle.MaxMessage)
			failed++
		case d.action == syncer.ActionConflict:
			s.State, s.Message = syncv1.DestinationConflict, "an object of this name exists and is not managed by this ConfigMapSync"
			conflicts++
		default:
			synced++
		}
		list = append(list, s)
	}
	for _, ns := range out.missing {
		list = append(list, syncv1.DestinationStatus{Namespace: ns, State: syncv1.DestinationNamespaceNotFound,
			Message: "the namespace does not exist or is being deleted; the copy is written when it appears"})
	}
	for _, ns := range out.excluded {
		list = append(list, syncv1.DestinationStatus{Namespace: ns, State: syncv1.DestinationExcluded,
			Message: "excluded by spec.destination.excludeNamespaces or the operator's --excluded-namespaces; no copy is written there"})
	}
	slices.SortFunc(list, func(a, b syncv1.DestinationStatus) int {
		if (a.State == syncv1.DestinationSynced) != (b.State == syncv1.DestinationSynced) {
			if a.State == syncv1.DestinationSynced {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Namespace, b.Namespace)
	})
	if len(list) > maxDestinationStatuses {
		list = list[:maxDestinationStatuses]
	}
	return list, synced, conflicts, failed, forbidden
}

// recordSourceRevoked reports a sync stopped because its requester may no longer read the source: Stalled, since
// only a change of rights (or of the spec) can fix it, though the resyncs keep asking. Copies and the
// per-destination status of the last sync are kept as they were.
func recordSourceRevoked(cms *syncv1.ConfigMapSync, check accessCheck) {
	msg := fmt.Sprintf("The requester %q may no longer read the source (missing: %s); nothing is read or copied and the copies are kept. "+
		"Syncing resumes at the first sync after the right is granted again, or after someone who has it changes the source",
		check.user, access.DescribeAll(check.source))
	lifecycle.SetCondition(cms, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonAccessRevoked, msg)
	lifecycle.SetCondition(cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonAccessRevoked, msg)
	cms.Status.SyncStatus = syncv1.SyncStatusFailed
}

// noteUnchecked adds to the Ready condition's message why the requester's rights were not re-checked.
func noteUnchecked(cms *syncv1.ConfigMapSync, check accessCheck) {
	ready := meta.FindStatusCondition(cms.Status.Conditions, syncv1.ReadyCondition)
	if check.unchecked == "" || ready == nil {
		return
	}
	lifecycle.SetCondition(cms, syncv1.ReadyCondition, ready.Status, ready.Reason, ready.Message+"; "+check.unchecked)
}

// recordKeys sets the KeysMatched condition from what selecting spec.source.keys found: only where keys are
// selected, and only when the source was read.
func recordKeys(cms *syncv1.ConfigMapSync, report *syncer.KeyReport) {
	switch {
	case len(cms.Spec.Source.Keys) == 0:
		lifecycle.RemoveCondition(cms, syncv1.KeysMatchedCondition)
	case report == nil:
	case report.Empty():
		lifecycle.SetCondition(cms, syncv1.KeysMatchedCondition, metav1.ConditionTrue, syncv1.ReasonKeysFound,
			"Every entry of spec.source.keys matches a key of the source")
	default:
		problems := make([]string, 0, len(report.Unmatched)+len(report.Collisions))
		for _, i := range report.Unmatched {
			problems = append(problems, fmt.Sprintf("spec.source.keys[%d] (%s) matches no key of the source", i, cms.Spec.Source.Keys[i].Key))
		}
		problems = append(problems, report.Collisions...)
		lifecycle.SetCondition(cms, syncv1.KeysMatchedCondition, metav1.ConditionFalse, syncv1.ReasonKeysNotFound,
			strings.Join(problems, "; ")+"; the copies hold the keys that matched")
	}
}

// emitKeysEvent records a Warning event when KeysMatched turns False, as Ready's failures do.
func emitKeysEvent(rec recorder.EventRecorder, before, cms *syncv1.ConfigMapSync) {
	now := meta.FindStatusCondition(cms.Status.Conditions, syncv1.KeysMatchedCondition)
	if now != nil && now.Status == metav1.ConditionFalse && !meta.IsStatusConditionFalse(before.Status.Conditions, syncv1.KeysMatchedCondition) {
		rec.Eventf(cms, nil, corev1.EventTypeWarning, now.Reason, "Sync", "%s", now.Message)
	}
}

// emitAdoptions records one Normal event for the objects a sync adopted, naming a few of them.
func emitAdoptions(rec recorder.EventRecorder, cms *syncv1.ConfigMapSync, out outcome) {
	var adopted []string
	for _, d := range out.destinations {
		if d.action == syncer.ActionAdopt && d.err == nil {
			adopted = append(adopted, d.namespace)
		}
	}
	if len(adopted) == 0 {
		return
	}
	names := strings.Join(adopted[:min(len(adopted), 5)], ", ")
	if len(adopted) > 5 {
		names += ", ..."
	}
	rec.Eventf(cms, nil, corev1.EventTypeNormal, "Adopted", "Sync",
		"Adopted the existing %s %s in %d namespaces (%s) under conflictPolicy Adopt", out.kind, cms.CopyName(), len(adopted), names)
}

// logOutcome logs the copies a sync wrote; an unchanged resync logs nothing.
func logOutcome(ctx context.Context, out outcome) {
	log := logf.FromContext(ctx)
	for _, d := range out.destinations {
		if d.err == nil && d.action != syncer.ActionNone {
			log.Info("Synced copy", "action", d.action, "namespace", d.namespace, "kind", out.kind)
		}
	}
	if len(out.missing) > 0 {
		log.V(1).Info("Listed destination namespaces do not exist", "namespaces", slices.Clip(out.missing))
	}
	if len(out.excluded) > 0 {
		log.V(1).Info("Listed destination namespaces are excluded", "namespaces", slices.Clip(out.excluded))
	}
}

// recordSyncMetrics updates the metrics for one sync.
func recordSyncMetrics(cms *syncv1.ConfigMapSync, out outcome, err error, took time.Duration) {
	result := metrics.ResultSuccess
	switch {
	case err != nil:
		result = metrics.ResultError
	case meta.IsStatusConditionFalse(cms.Status.Conditions, syncv1.ReadyCondition):
		result = metrics.ResultPartial
	default:
		metrics.SyncSucceeded()
	}
	metrics.SyncDuration.WithLabelValues(out.kind, result).Observe(took.Seconds())
	if !out.sourceMissing && len(out.access.source) == 0 {
		metrics.SetCopies(client.ObjectKeyFromObject(cms), out.kind, out.copies)
	}
	for _, d := range out.destinations {
		switch {
		case d.err != nil:
			metrics.SyncErrors.WithLabelValues(errorReason(d.err)).Inc()
		case d.action == syncer.ActionConflict:
			metrics.SyncErrors.WithLabelValues("Conflict").Inc()
		}
	}
}

// errorReason maps an error to a small fixed set of metric label values.
func errorReason(err error) string {
	if lifecycle.IsPermanent(err) {
		return "Permanent"
	}
	if reason := apierrors.ReasonForError(err); reason != metav1.StatusReasonUnknown {
		return string(reason)
	}
	return "Other"
}
