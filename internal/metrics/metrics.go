// Package metrics defines the operator's Prometheus metrics, registered with controller-runtime's registry so
// they are served beside its own on /metrics. Every label has a small fixed set of values: no metric is labelled
// by object name or namespace, so cardinality does not grow with the cluster.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Result labels of SyncDuration.
const (
	ResultSuccess = "success"
	ResultPartial = "partial"
	ResultError   = "error"
)

var (
	// SyncDuration times one sync of one ConfigMapSync (reading the source, writing and pruning copies).
	SyncDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "configmapsync_sync_duration_seconds",
		Help:    "Time to sync one ConfigMapSync: read the source, write changed copies, prune stale ones.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"kind", "result"})

	// SyncErrors counts failed syncs of one destination or cleanup step, by reason.
	SyncErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "configmapsync_sync_errors_total",
		Help: "Failed copy writes, conflicts and cleanup failures, by reason.",
	}, []string{"reason"})

	// CopyWrites counts writes to copies, by action (Create, Update, Replace, Delete, Release).
	CopyWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "configmapsync_copy_writes_total",
		Help: "Writes the operator made to copies, by action. A resync with nothing changed adds none.",
	}, []string{"kind", "action"})

	copiesManaged = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "configmapsync_copies_managed",
		Help: "Copies the operator manages across all ConfigMapSyncs, by kind.",
	}, []string{"kind"})

	unprovenObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "configmapsync_unproven_objects",
		Help: "Objects that carry a ConfigMapSync's ownership labels without a valid ownership proof (forged, or signed with a lost key), by kind. The operator leaves them alone.",
	}, []string{"kind"})

	lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "configmapsync_last_successful_sync_timestamp_seconds",
		Help: "Unix time of the last sync that left every destination of a ConfigMapSync up to date.",
	})

	// Rotations counts rotations of ManagedSecrets' generated keys that were written.
	Rotations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "managedsecret_rotations_total",
		Help: "Rotations of ManagedSecrets' generated keys written to their Secrets (scheduled and requested).",
	})

	// ManagedSecretFailures counts reconciles of a ManagedSecret that could not bring its Secret up to date, by
	// the reason its Ready condition gives.
	ManagedSecretFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "managedsecret_failures_total",
		Help: "ManagedSecret reconciles that left the Secret out of date, by reason (WriteFailed, PermanentFailure, InvalidSpec, Conflict, CleanupFailed).",
	}, []string{"reason"})

	// NextRotation is the earliest scheduled rotation; SetNextRotation keeps it.
	NextRotation = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "managedsecret_next_rotation_timestamp_seconds",
		Help: "Unix time of the earliest scheduled rotation among all ManagedSecrets (0 when none has a rotationInterval). Behind time(), a rotation is overdue.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(SyncDuration, SyncErrors, CopyWrites, copiesManaged, unprovenObjects, lastSuccess,
		Rotations, ManagedSecretFailures, NextRotation)
}

// rotations remembers each ManagedSecret's next rotation, so the gauge can show the earliest and forget deleted ones.
var rotations = struct {
	sync.Mutex
	next map[types.NamespacedName]time.Time
}{next: map[types.NamespacedName]time.Time{}}

// SetNextRotation records when the ManagedSecret key rotates next; the zero time forgets it (no schedule, deleted,
// or its Secret is someone else's). A failing ManagedSecret keeps its last schedule, so an overdue rotation shows.
func SetNextRotation(key types.NamespacedName, next time.Time) {
	rotations.Lock()
	defer rotations.Unlock()
	if next.IsZero() {
		delete(rotations.next, key)
	} else {
		rotations.next[key] = next
	}
	var earliest time.Time
	for _, t := range rotations.next {
		if earliest.IsZero() || t.Before(earliest) {
			earliest = t
		}
	}
	if earliest.IsZero() {
		NextRotation.Set(0)
		return
	}
	NextRotation.Set(float64(earliest.UnixNano()) / 1e9)
}

// perOwner is a gauge by kind that sums one count per ConfigMapSync, so that it can drop a deleted sync's share.
type perOwner struct {
	sync.Mutex
	gauge   *prometheus.GaugeVec
	byOwner map[types.NamespacedName]ownerCount
}

type ownerCount struct {
	kind  string
	count int
}

// set records the count of kind for the ConfigMapSync key; count 0 forgets it.
func (p *perOwner) set(key types.NamespacedName, kind string, count int) {
	p.Lock()
	defer p.Unlock()
	if old, ok := p.byOwner[key]; ok {
		p.gauge.WithLabelValues(old.kind).Sub(float64(old.count))
	}
	if count == 0 {
		delete(p.byOwner, key)
		return
	}
	p.byOwner[key] = ownerCount{kind: kind, count: count}
	p.gauge.WithLabelValues(kind).Add(float64(count))
}

var (
	copies   = perOwner{gauge: copiesManaged, byOwner: map[types.NamespacedName]ownerCount{}}
	unproven = perOwner{gauge: unprovenObjects, byOwner: map[types.NamespacedName]ownerCount{}}
)

// SetCopies records how many copies of kind the ConfigMapSync key manages now; count 0 forgets it.
func SetCopies(key types.NamespacedName, kind string, count int) { copies.set(key, kind, count) }

// SetUnproven records how many objects of kind claim the ConfigMapSync key without a proof; 0 forgets it.
func SetUnproven(key types.NamespacedName, kind string, count int) { unproven.set(key, kind, count) }

// SyncSucceeded records a sync that left every destination up to date.
func SyncSucceeded() { lastSuccess.SetToCurrentTime() }
