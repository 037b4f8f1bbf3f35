package configmapsync

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- status ---------------------------------------------------------------------------------------------------

func TestDestinationStatuses_BoundedWithAttentionFirst(t *testing.T) {
	var out outcome
	for i := range 60 {
		d := destinationResult{namespace: fmt.Sprintf("ns-%02d", i), action: syncer.ActionNone}
		switch i {
		case 55, 57:
			d.err = errors.New("create failed")
		case 58:
			d.action = syncer.ActionConflict
		}
		out.destinations = append(out.destinations, d)
	}
	out.missing = []string{"zz-missing"}

	list, synced, conflicts, failed, _ := destinationStatuses(out)
	assert.Equal(t, 57, synced)
	assert.Equal(t, 1, conflicts)
	assert.Equal(t, 2, failed)
	require.Len(t, list, maxDestinationStatuses)
	require.Equal(t, 50, maxDestinationStatuses)

	assert.Equal(t, syncv1.DestinationStatus{Namespace: "ns-55", State: syncv1.DestinationFailed, Message: "create failed"}, list[0])
	assert.Equal(t, "ns-57", list[1].Namespace)
	assert.Equal(t, syncv1.DestinationFailed, list[1].State)
	assert.Equal(t, "ns-58", list[2].Namespace)
	assert.Equal(t, syncv1.DestinationConflict, list[2].State)
	assert.Equal(t, "zz-missing", list[3].Namespace)
	assert.Equal(t, syncv1.DestinationNamespaceNotFound, list[3].State)
	for i, s := range list[4:] {
		assert.Equal(t, syncv1.DestinationSynced, s.State, "entry %d", i+4)
	}
	// The synced ones are in namespace order.
	assert.Equal(t, "ns-00", list[4].Namespace)
	assert.True(t, slices.IsSortedFunc(list[4:], func(a, b syncv1.DestinationStatus) int {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}))
	seen := map[string]bool{}
	for _, s := range list {
		assert.False(t, seen[s.Namespace], "duplicate %s", s.Namespace)
		seen[s.Namespace] = true
	}
}

func TestRecordStatus_CountsCoverAllDestinations(t *testing.T) {
	var out outcome
	for i := range 60 {
		d := destinationResult{namespace: fmt.Sprintf("ns-%02d", i), action: syncer.ActionCreate}
		if i == 59 {
			d.err = apierrors.NewServiceUnavailable("down")
		}
		out.destinations = append(out.destinations, d)
	}
	cms := newTestCMS()
	recordStatus(cms, out, errors.New("one failed"), time.Now())

	assert.Len(t, cms.Status.Destinations, maxDestinationStatuses)
	assert.Equal(t, "ns-59", cms.Status.Destinations[0].Namespace)
	assert.Equal(t, syncv1.DestinationFailed, cms.Status.Destinations[0].State)
	assert.EqualValues(t, 60, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 59, cms.Status.SyncedDestinations)
	assert.EqualValues(t, 1, cms.Status.FailedDestinations)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed)
	assert.Equal(t, syncv1.SyncStatusPartiallySynced, cms.Status.SyncStatus)
}

func TestRecordStatus_TruncatesLongMessages(t *testing.T) {
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	out := outcome{destinations: []destinationResult{{namespace: "ns-a", err: errors.New(string(long))}}}
	cms := newTestCMS()
	recordStatus(cms, out, reconcile.TerminalError(errors.New(string(long))), time.Now())
	assert.LessOrEqual(t, len(cms.Status.Destinations[0].Message), lifecycle.MaxMessage)
	for _, c := range cms.Status.Conditions {
		assert.LessOrEqual(t, len(c.Message), lifecycle.MaxMessage, c.Type)
	}
}

func TestRecordStatus_LastSyncTimeMovesOnlyOnChange(t *testing.T) {
	cms := newTestCMS()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	synced := outcome{destinations: []destinationResult{{namespace: "ns-a", action: syncer.ActionCreate}}, writes: 1}
	recordStatus(cms, synced, nil, t0)
	require.NotNil(t, cms.Status.LastSyncTime)
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0))

	unchanged := outcome{destinations: []destinationResult{{namespace: "ns-a", action: syncer.ActionNone}}}
	recordStatus(cms, unchanged, nil, t0.Add(time.Hour))
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0), "an unchanged resync leaves lastSyncTime")

	recordStatus(cms, synced, nil, t0.Add(2*time.Hour))
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0.Add(2*time.Hour)))
}
