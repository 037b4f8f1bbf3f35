package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The copies-100k scenario (issue 32, "a big multi-tenant cluster in the memory of a small one"): bigSyncs
// ConfigMapSyncs, each of its own 1 KiB source (spread over bigSourceNamespaces namespaces) to the bigNamespaces
// namespaces a label selects, so bigSyncs x bigNamespaces copies; then a crash and restart of the operator with
// all of them in place. Targets from the issue: peak RSS at most half the CSV's limit, start-up to leading and a
// complete no-op resync within bounds, and no write in that resync.
const (
	bigSyncs            = 1000
	bigNamespaces       = 100
	bigSourceNamespaces = 10
	bigPeakLimitMiB     = 128
	bigLeadingLimit     = 10 * time.Second
	bigResyncLimit      = 60 * time.Second
	// bigValue is the valueKey of the sources, so of every copy.
	bigValue = "big-1"
	// bigController is the controller (and work queue) of ConfigMapSyncs.
	bigController = failoverController
)

// bigSelector labels the destination namespaces.
var bigSelector = map[string]string{"bench.configmapsync.io/big": "true"}

// copies100k runs the scenario on the pod-like operator (its ServiceAccount's rights, the container's memory
// limit), started fresh for it.
func (b *bench) copies100k(ctx context.Context) error {
	return b.withPodOperator(ctx, func(ctx context.Context) error {
		n := bigSyncs * bigNamespaces
		if err := b.bigSetup(ctx); err != nil {
			return err
		}
		logf("copies-100k: operator RSS before the ConfigMapSyncs (settling %s)", b.cfg.settle)
		before, err := settledRSS(ctx, b.op.PID(), b.cfg.settle)
		if err != nil {
			return err
		}
		heapBefore := b.heapInUse(ctx)
		if err := resetPeakRSS(b.op.PID()); err != nil {
			logf("copies-100k: %v", err)
		}
		logf("copies-100k: creating %d ConfigMapSyncs, each to %d namespaces", bigSyncs, bigNamespaces)
		start := time.Now()
		created, err := timed(func() error {
			return parallel(ctx, bigSyncs, func(ctx context.Context, i int) error {
				return b.c.client.Create(ctx, bigSync(i))
			})
		})
		if err != nil {
			return fmt.Errorf("creating ConfigMapSyncs: %w", err)
		}
		logf("copies-100k: created in %s; waiting for all to be Ready and %d copies", created.Round(time.Millisecond), n)
		ready, err := b.w.waitFor(ctx, min(b.cfg.timeout(n), 30*time.Minute), "all copies-100k ConfigMapSyncs Ready",
			func(w *watcher) bool { return bigReady(w) == bigSyncs && w.copiesWith(bigValue) == n })
		if err != nil {
			return err
		}
		after, err := settledRSS(ctx, b.op.PID(), b.cfg.settle)
		if err != nil {
			return err
		}
		// Read after settling: the operator still works through requeued ConfigMapSyncs once all are Ready.
		peak, err := peakRSS(b.op.PID())
		if err != nil {
			return err
		}
		heapAfter := b.heapInUse(ctx)
		b.add(b.bigFigures(n, ready.Sub(start), created, before, after, peak, heapBefore, heapAfter)...)
		return b.bigRestart(ctx, n)
	})
}

// bigSetup creates the namespaces and the sources.
func (b *bench) bigSetup(ctx context.Context) error {
	logf("copies-100k: preparing %d destination namespaces, %d source namespaces, %d sources", bigNamespaces,
		bigSourceNamespaces, bigSyncs)
	if _, err := createNamespaces(ctx, b.c.client, "big", bigNamespaces, bigSelector); err != nil {
		return err
	}
	if _, err := createNamespaces(ctx, b.c.client, "big-src", bigSourceNamespaces, nil); err != nil {
		return err
	}
	return parallel(ctx, bigSyncs, func(ctx context.Context, i int) error {
		return b.c.client.Create(ctx, configMap(bigSourceNamespace(i), bigName(i), bigValue))
	})
}

func bigSourceNamespace(i int) string { return fmt.Sprintf("big-src-%d", i%bigSourceNamespaces) }

func bigName(i int) string { return fmt.Sprintf("big-%d", i) }

// bigSync is the i-th ConfigMapSync: source big-i into every namespace bigSelector selects (its copies are named
// big-i too, so every copy has a name of its own in its namespace).
func bigSync(i int) *syncv1.ConfigMapSync {
	return newSync(bigSourceNamespace(i), bigName(i), bigName(i),
		syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{MatchLabels: bigSelector}}, "")
}

// bigReady counts the scenario's Ready ConfigMapSyncs (called under the watcher's lock).
func bigReady(w *watcher) int {
	n := 0
	for i := range bigSourceNamespaces {
		n += w.readySyncs[bigSourceNamespace(i)]
	}
	return n
}

// bigFigures are the figures of the copies being made: time until Ready, peak and settled RSS, bytes per copy.
func (b *bench) bigFigures(n int, ready, created time.Duration, before, after, peak, heapBefore, heapAfter float64) []figure {
	what := fmt.Sprintf("%d ConfigMapSyncs x %d namespaces (%d copies of 1 KiB)", bigSyncs, bigNamespaces, n)
	readyFig := figure{Scenario: "copies-100k", Metric: what + ", from first create until all Ready", Value: ready.Seconds(),
		Unit: "s", Target: "report only"}
	readyFig.Note = fmt.Sprintf("%s; the %d creates (through the admission webhooks, %d in parallel) took %.1f s",
		b.op.describe(), bigSyncs, workers, created.Seconds())
	peakFig := atMost("copies-100k", "operator peak RSS while the copies are made", mib(peak), "MiB", bigPeakLimitMiB)
	peakFig.Note = "VmHWM from the first create until all were Ready and settled" + overLimit(peak, b.op.memoryLimit)
	settled := figure{Scenario: "copies-100k", Metric: "operator RSS settled with the copies", Value: mib(after), Unit: "MiB",
		Target: "report only"}
	settled.Note = fmt.Sprintf("peak of 5 s of samples after %s settling; %.1f MiB before the ConfigMapSyncs; Go heap in use "+
		"%.1f → %.1f MiB", b.cfg.settle, mib(before), mib(heapBefore), mib(heapAfter))
	perCopy := figure{Scenario: "copies-100k", Metric: "operator memory per copy: settled RSS growth / copies",
		Value: math.Round((after - before) / float64(n)), Unit: "bytes", Target: "report only"}
	perCopy.Note = fmt.Sprintf("(%.1f − %.1f MiB) / %d; Go heap in use per copy (go_memstats_heap_inuse_bytes growth): "+
		"%.0f bytes", mib(after), mib(before), n, (heapAfter-heapBefore)/float64(n))
	heapFig := figure{Scenario: "copies-100k", Metric: "operator Go heap in use per copy", Value: math.Round((heapAfter - heapBefore) / float64(n)),
		Unit: "bytes", Target: "report only"}
	return []figure{readyFig, peakFig, settled, perCopy, heapFig}
}

// overLimit says, for a note, when an RSS is over the container's memory limit: the pod would be OOM-killed.
func overLimit(rss float64, limit int64) string {
	if limit == 0 || rss <= float64(limit) {
		return ""
	}
	return fmt.Sprintf("; over the container's limit of %.0f MiB, where the pod would be OOM-killed", mib(float64(limit)))
}

// bigRestart kills the operator (SIGKILL, a crash) with the copies in place; its supervisor starts a new process a
// second later, as the kubelet restarts a container. It measures the new process from its start: until it holds the
// Lease, until every ConfigMapSync has been reconciled once more and its queue is empty (a no-op resync: nothing
// changed), the API requests made meanwhile and the writes among them, and its peak and settled RSS.
func (b *bench) bigRestart(ctx context.Context, n int) error {
	var all syncv1.ConfigMapSyncList
	if err := b.c.client.List(ctx, &all); err != nil {
		return err
	}
	syncs := len(all.Items)
	former, err := b.c.leaseHolder(ctx)
	if err != nil {
		return err
	}
	lease, err := leaseSettingsOf(b.cfg.manager, b.op.args)
	if err != nil {
		return err
	}
	api0, err := scrapeAPIServer(ctx, b.c)
	if err != nil {
		return err
	}
	oldPID := b.op.PID()
	logf("copies-100k: killing the operator (SIGKILL, pid %d) with %d copies and %d ConfigMapSyncs in place", oldPID, n, syncs)
	killed := time.Now()
	gone, err := b.op.kill(syscall.SIGKILL)
	if err != nil {
		return err
	}
	<-gone
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := poll(waitCtx, 20*time.Millisecond, func() (bool, error) { return b.op.Running() && b.op.PID() != oldPID, nil }); err != nil {
		return fmt.Errorf("waiting for the new process: %w", err)
	}
	pid, started := b.op.PID(), time.Unix(0, b.op.startedAt.Load())
	leading, err := b.leadingSince(waitCtx, former, started)
	if err != nil {
		return err
	}
	logf("copies-100k: the new process (pid %d) leads %.2f s after its start; waiting for its resync of %d ConfigMapSyncs",
		pid, leading.Seconds(), syncs)
	resynced, reconciles, err := b.waitResync(waitCtx, syncs)
	if err != nil {
		return err
	}
	api1, err := scrapeAPIServer(ctx, b.c)
	if err != nil {
		return err
	}
	opm, err := scrapeOperator(ctx, b.op.metricsAddr)
	if err != nil {
		return err
	}
	settled, err := settledRSS(ctx, pid, b.cfg.settle)
	if err != nil {
		return err
	}
	peak, err := peakRSS(pid)
	if err != nil {
		return err
	}
	resync := resynced.Sub(started)
	leadFig := atMost("copies-100k", fmt.Sprintf("restart with %d copies: start-up to leading (Lease acquired)", n),
		leading.Seconds(), "s", bigLeadingLimit.Seconds())
	leadFig.Note = fmt.Sprintf("the process was killed with SIGKILL and started again %.2f s later by its supervisor, with the "+
		"pod's name and UID as before (a container restart keeps the pod), so it renews the Lease its predecessor held "+
		"instead of waiting it out; %s; %s", started.Sub(killed).Seconds(), lease, startTimeline(b.op.logPath, started))
	resyncFig := atMost("copies-100k", fmt.Sprintf("restart with %d copies: start-up to a completed no-op resync", n),
		resync.Seconds(), "s", bigResyncLimit.Seconds())
	resyncFig.Note = fmt.Sprintf("until %.0f reconciles of the %d ConfigMapSyncs (configmapsync_sync_duration_seconds_count) "+
		"and an empty %s queue; %.2f s after leading; API requests from the kill until then, all clients (the bench's "+
		"watches and the API server's own Lease included): %s", reconciles, syncs, bigController, (resync - leading).Seconds(),
		requestsByVerb(api0, api1))
	writes := apiWritesBy(api0, api1)
	var other float64
	for res, v := range writes {
		if !notStored[res] {
			other += v
		}
	}
	// The new leader records one Event ("... became leader") through client-go's leader election.
	other = max(0, other-1)
	writeFig := bounded("copies-100k", "restart: API writes from the kill until the resync completed, other than Lease renewals "+
		"and the leader-election Event", other, "writes", 0)
	writeFig.Note = fmt.Sprintf("writes on the API server by resource (all clients): %v; the new process's copy writes "+
		"(configmapsync_copy_writes_total): %.0f; its client's requests by method (rest_client_requests_total): %v",
		roundMap(writes), opm.sum("configmapsync_copy_writes_total", nil), roundMap(opm.sumBy("rest_client_requests_total", "method", nil)))
	peakFig := atMost("copies-100k", fmt.Sprintf("restart with %d copies: peak RSS of the new process", n), mib(peak), "MiB", bigPeakLimitMiB)
	peakFig.Note = fmt.Sprintf("VmHWM from its start until the resync completed and settled%s", overLimit(peak, b.op.memoryLimit))
	settledFig := figure{Scenario: "copies-100k", Metric: fmt.Sprintf("restart with %d copies: settled RSS of the new process", n),
		Value: mib(settled), Unit: "MiB", Target: "report only"}
	settledFig.Note = fmt.Sprintf("peak of 5 s of samples after %s settling; Go heap in use %.1f MiB", b.cfg.settle,
		mib(b.heapInUse(ctx)))
	b.add(leadFig, resyncFig, writeFig, peakFig, settledFig)
	return nil
}

// Log lines of leader election read by startTimeline (client-go's, through controller-runtime's logger).
const msgAttemptLease = "Attempting to acquire leader lease..."

// startTimeline says, for a note, when the process started at started logged its start, its first attempt at the
// Lease and its acquisition, from its log.
func startTimeline(logPath string, started time.Time) string {
	at := map[string]time.Duration{}
	for _, e := range readLog(logPath) {
		if e.at.Before(started) {
			continue
		}
		for _, msg := range []string{msgStartManager, msgAttemptLease, msgAcquired} {
			if _, seen := at[msg]; !seen && e.Msg == msg {
				at[msg] = e.at.Sub(started)
			}
		}
	}
	parts := make([]string, 0, 3)
	for _, msg := range []string{msgStartManager, msgAttemptLease, msgAcquired} {
		if d, ok := at[msg]; ok {
			parts = append(parts, fmt.Sprintf("%q +%.2f s", msg, d.Seconds()))
		} else {
			parts = append(parts, fmt.Sprintf("%q not logged", msg))
		}
	}
	return "its log after its start: " + strings.Join(parts, ", ")
}

// leadingSince waits until the process started at started leads, and returns how long after its start that was:
// the Lease's acquireTime when it names a holder other than former, or its first renewTime after started when the
// holder is still former (the process kept its pod's identity). Both are written by the holder, from the same clock.
func (b *bench) leadingSince(ctx context.Context, former string, started time.Time) (time.Duration, error) {
	var acquired time.Time
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		lease, err := b.c.clientset.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			return false, nil // Not there yet, or the API server is busy: poll again.
		}
		h := lease.Spec.HolderIdentity
		switch {
		case h == nil || *h == "":
			return false, nil
		case *h == former: // The pod's identity: the new process renews the Lease its predecessor held.
			if r := lease.Spec.RenewTime; r != nil && r.After(started) {
				acquired = r.Time
				return true, nil
			}
			return false, nil
		}
		acquired = time.Now()
		if lease.Spec.AcquireTime != nil {
			acquired = lease.Spec.AcquireTime.Time
		}
		return true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("waiting for the new process to lead: %w", err)
	}
	return acquired.Sub(started), nil
}

// waitResync polls the operator's metrics until it has reconciled at least syncs ConfigMapSyncs and its queue is
// empty, and returns when it first saw that and the reconcile count.
func (b *bench) waitResync(ctx context.Context, syncs int) (time.Time, float64, error) {
	var reconciles, depth float64
	var at time.Time
	isQueue := func(l map[string]string) bool { return l["name"] == bigController }
	err := poll(ctx, 250*time.Millisecond, func() (bool, error) {
		m, err := scrapeOperator(ctx, b.op.metricsAddr)
		if err != nil {
			return false, nil // Not serving metrics yet.
		}
		at = time.Now()
		reconciles, depth = m.sum("configmapsync_sync_duration_seconds_count", nil), m.sum("workqueue_depth", isQueue)
		return reconciles >= float64(syncs) && depth == 0, nil
	})
	if err != nil {
		return at, reconciles, fmt.Errorf("waiting for the resync (%.0f of %d reconciled, %.0f queued): %w", reconciles, syncs, depth, err)
	}
	return at, reconciles, nil
}

// apiWritesBy is the API server's write requests between two scrapes, by resource.
func apiWritesBy(before, after metricSet) map[string]float64 {
	out := map[string]float64{}
	was := before.sumBy("apiserver_request_total", "resource", isAPIWrite)
	for res, v := range after.sumBy("apiserver_request_total", "resource", isAPIWrite) {
		if d := v - was[res]; d > 0 {
			out[res] = d
		}
	}
	return out
}

// requestsByVerb describes the API server's requests between two scrapes: the total by verb, then by verb and
// resource.
func requestsByVerb(before, after metricSet) string {
	delta := func(label func(map[string]string) string) map[string]float64 {
		out := map[string]float64{}
		for _, s := range after["apiserver_request_total"] {
			out[label(s.labels)] += s.value
		}
		for _, s := range before["apiserver_request_total"] {
			out[label(s.labels)] -= s.value
		}
		return out
	}
	format := func(m map[string]float64) string {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if v := math.Round(m[k]); v > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
			}
		}
		return strings.Join(parts, ", ")
	}
	byVerb := delta(func(l map[string]string) string { return l["verb"] })
	detail := delta(func(l map[string]string) string {
		what := l["verb"] + " " + l["resource"]
		if l["subresource"] != "" {
			what += "/" + l["subresource"]
		}
		return what
	})
	return fmt.Sprintf("by verb: %s (by verb and resource: %s)", format(byVerb), format(detail))
}
