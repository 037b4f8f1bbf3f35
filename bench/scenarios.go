package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// bench holds what every scenario needs and collects the figures.
type bench struct {
	c       *cluster
	op      *operatorProcess
	w       *watcher
	cfg     config
	figures []figure
	// curves collects the points of the fanout-size and churn curves.
	curves *curves
	// otherRestarts are the exits on their own of operator processes other than op (the failover scenario's
	// follower, operators replaced by the memory scenarios), for the stability figure.
	otherRestarts []string
	// lastScenario is true while the run's last scenario runs (withPodOperator then leaves its operator running).
	lastScenario bool
	// podMemoryLimit is the MEMORY_LIMIT the pod-like operator ran with, for the report (0 when none ran).
	podMemoryLimit int64
}

// add records figures and logs them.
func (b *bench) add(fs ...figure) {
	for _, f := range fs {
		line := fmt.Sprintf("  %s: %s = %s", f.Scenario, f.Metric, formatValue(f.Value, f.Unit))
		if f.Baseline != nil {
			line += ", direct " + formatValue(*f.Baseline, f.Unit)
		}
		if f.Ratio != nil {
			line += fmt.Sprintf(" (%.2fx)", *f.Ratio)
		}
		if f.Met != nil {
			line += fmt.Sprintf(", target %s met: %t", f.Target, *f.Met)
		}
		logf("%s", line)
		b.figures = append(b.figures, f)
	}
}

// newSync returns a ConfigMapSync of the ConfigMap source in namespace into dest.
func newSync(namespace, name, source string, dest syncv1.Destination, frequency string) *syncv1.ConfigMapSync {
	return &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:        syncv1.SourceReference{Kind: syncv1.SourceKindConfigMap, Name: source},
			Destination:   dest,
			SyncFrequency: frequency,
		},
	}
}

// fanOutAndUpdate copies one 1 KiB ConfigMap into fanOut namespaces (selected by label) and then changes it,
// each timed until every copy holds the value, against the same creates and updates made directly.
func (b *bench) fanOutAndUpdate(ctx context.Context) error {
	n := b.cfg.fanOut
	logf("fan-out: preparing %d namespaces", n)
	selector := map[string]string{"bench.configmapsync.io/fan-out": "true"}
	namespaces, err := createNamespaces(ctx, b.c.client, "fan", n, selector)
	if err != nil {
		return err
	}
	if _, err := createNamespaces(ctx, b.c.client, "fan-source", 1, nil); err != nil {
		return err
	}

	logf("fan-out: direct baseline, %d ConfigMap creates", n)
	direct := make([]*corev1.ConfigMap, n)
	baseCreate, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error {
			direct[i] = configMap(namespaces[i], "direct", "direct-1")
			return b.c.client.Create(ctx, direct[i])
		})
	})
	if err != nil {
		return fmt.Errorf("direct creates: %w", err)
	}

	logf("fan-out: operator, one ConfigMapSync into %d namespaces", n)
	source := configMap("fan-source-0", "fan-out", "fan-out-1")
	if err := b.c.client.Create(ctx, source); err != nil {
		return err
	}
	cms := newSync("fan-source-0", "fan-out", "fan-out", syncv1.Destination{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: selector},
	}, "")
	start := time.Now()
	if err := b.c.client.Create(ctx, cms); err != nil {
		return fmt.Errorf("creating the fan-out ConfigMapSync: %w", err)
	}
	done, err := b.w.waitFor(ctx, b.cfg.timeout(n), "all fan-out copies", func(w *watcher) bool { return w.copiesWith("fan-out-1") == n })
	if err != nil {
		return err
	}
	b.add(compared("fan-out", fmt.Sprintf("1 KiB ConfigMap to %d namespaces, until all copies exist", n),
		done.Sub(start).Seconds(), baseCreate.Seconds(), "s", fmt.Sprintf("%d creates", n), 2))

	logf("update: direct baseline, %d ConfigMap updates", n)
	baseUpdate, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error {
			direct[i].Data[valueKey] = "direct-2"
			return b.c.client.Update(ctx, direct[i])
		})
	})
	if err != nil {
		return fmt.Errorf("direct updates: %w", err)
	}
	logf("update: operator, changing the source of %d copies", n)
	source.Data[valueKey] = "fan-out-2"
	start = time.Now()
	if err := b.c.client.Update(ctx, source); err != nil {
		return err
	}
	done, err = b.w.waitFor(ctx, b.cfg.timeout(n), "all fan-out copies updated", func(w *watcher) bool { return w.copiesWith("fan-out-2") == n })
	if err != nil {
		return err
	}
	b.add(compared("update", fmt.Sprintf("source change, until all %d copies match", n),
		done.Sub(start).Seconds(), baseUpdate.Seconds(), "s", fmt.Sprintf("%d updates", n), 2))
	return nil
}

// latency changes a source `rounds` times, one change at a time, and measures how long each takes to reach its one
// copy (as the bench's watch sees it); the baseline is a direct update of a ConfigMap seen through the same watch,
// which is the floor: the API server's write plus its watch delivery.
func (b *bench) latency(ctx context.Context) error {
	rounds := b.cfg.latencyRounds
	if _, err := createNamespaces(ctx, b.c.client, "latency", 2, nil); err != nil {
		return err
	}
	source := configMap("latency-0", "latency", "latency-0")
	if err := b.c.client.Create(ctx, source); err != nil {
		return err
	}
	cms := newSync("latency-0", "latency", "latency", syncv1.Destination{Namespaces: []string{"latency-1"}}, "")
	if err := b.c.client.Create(ctx, cms); err != nil {
		return err
	}
	if _, err := b.w.waitFor(ctx, time.Minute, "the latency copy", func(w *watcher) bool { return w.copiesWith("latency-0") == 1 }); err != nil {
		return err
	}
	// The direct object carries the managed-by label only so that the bench's watch (which follows copies) sees it;
	// without the owner labels and annotation the operator leaves it alone.
	direct := configMap("latency-1", "direct", "direct-0")
	direct.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue}
	if err := b.c.client.Create(ctx, direct); err != nil {
		return err
	}

	logf("latency: %d sequential source changes, and %d direct updates", rounds, rounds)
	measure := func(obj *corev1.ConfigMap, prefix string, round int) (time.Duration, error) {
		value := fmt.Sprintf("%s-%d", prefix, round)
		obj.Data[valueKey] = value
		start := time.Now()
		if err := b.c.client.Update(ctx, obj); err != nil {
			return 0, err
		}
		done, err := b.w.waitFor(ctx, 30*time.Second, value, func(w *watcher) bool { return w.copiesWith(value) == 1 })
		return done.Sub(start), err
	}
	var viaOperator, directly []time.Duration
	for round := 1; round <= rounds; round++ {
		d, err := measure(source, "latency", round)
		if err != nil {
			return err
		}
		viaOperator = append(viaOperator, d)
		if d, err = measure(direct, "direct", round); err != nil {
			return err
		}
		directly = append(directly, d)
	}
	for _, p := range []float64{50, 99} {
		b.add(compared("latency", fmt.Sprintf("p%g, source change to its copy (%d changes)", p, rounds),
			ms(percentile(viaOperator, p)), ms(percentile(directly, p)), "ms", "direct update seen by a watch", 0))
	}
	return nil
}

// churnDestinations is how many namespaces the churn scenario's copies are spread over.
const churnDestinations = 10

// churn runs one churn round per configured N (churnPoints), smallest first, so the report shows churn time
// against N. Each round starts from nothing left by the one before: its ConfigMapSyncs and copies are gone.
func (b *bench) churn(ctx context.Context) error {
	dest, err := createNamespaces(ctx, b.c.client, "churn-dest", churnDestinations, nil)
	if err != nil {
		return err
	}
	if _, err := createNamespaces(ctx, b.c.client, "churn", 1, nil); err != nil {
		return err
	}
	if err := b.c.client.Create(ctx, configMap("churn-0", "churn-source", "churn")); err != nil {
		return err
	}
	points := slices.Sorted(slices.Values(b.cfg.churnPoints))
	for _, n := range slices.Compact(points) {
		p, err := b.churnRound(ctx, n, dest)
		if err != nil {
			return fmt.Errorf("churn of %d: %w", n, err)
		}
		b.curves.Churn = append(b.curves.Churn, p)
	}
	return nil
}

// churnRound creates n ConfigMapSyncs of one copy each, until all are Ready, then deletes them, until no copy is
// left; the baseline creates and deletes n ConfigMaps directly.
func (b *bench) churnRound(ctx context.Context, n int, dest []string) (churnPoint, error) {
	logf("churn: direct baseline, %d ConfigMap creates and deletes", n)
	direct := func(i int) *corev1.ConfigMap {
		return configMap(dest[i%len(dest)], fmt.Sprintf("direct-%d", i), "direct")
	}
	cpuStart := processCPU(b.op.PID())
	baseCreate, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error { return b.c.client.Create(ctx, direct(i)) })
	})
	if err != nil {
		return churnPoint{}, fmt.Errorf("direct creates: %w", err)
	}
	cpuDirectCreated := processCPU(b.op.PID())
	baseDelete, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error { return b.c.client.Delete(ctx, direct(i)) })
	})
	if err != nil {
		return churnPoint{}, fmt.Errorf("direct deletes: %w", err)
	}

	cpuDirectDeleted := processCPU(b.op.PID())
	// The floor restarts the operator (twice a follower's start): its CPU is read afresh after it.
	logf("churn: the floor, the operator's API work for %d ConfigMapSyncs done directly through its webhooks", n)
	floorCreate, floorDelete, err := b.churnFloor(ctx, n, dest)
	if err != nil {
		return churnPoint{}, fmt.Errorf("the floor: %w", err)
	}
	scrape := func() metricSet {
		m, err := scrapeAPIServer(ctx, b.c)
		if err != nil {
			logf("churn: %v", err)
		}
		return m
	}
	logf("churn: operator, creating %d ConfigMapSyncs", n)
	beforeCreate, cpuBeforeCreate := scrape(), processCPU(b.op.PID())
	if err := resetPeakRSS(b.op.PID()); err != nil {
		logf("churn: %v", err)
	}
	sync := func(i int) *syncv1.ConfigMapSync {
		return newSync("churn-0", fmt.Sprintf("churn-%d", i), "churn-source",
			syncv1.Destination{Namespaces: []string{dest[i%len(dest)]}, Name: fmt.Sprintf("copy-%d", i)}, "")
	}
	start := time.Now()
	created, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error { return b.c.client.Create(ctx, sync(i)) })
	})
	if err != nil {
		return churnPoint{}, fmt.Errorf("creating ConfigMapSyncs: %w", err)
	}
	logf("churn: %d ConfigMapSyncs created in %s; waiting for all to be Ready", n, created.Round(time.Millisecond))
	ready, err := b.w.waitFor(ctx, b.cfg.timeout(n), "all churn ConfigMapSyncs Ready", func(w *watcher) bool {
		return w.readySyncs["churn-0"] == n && w.copiesWith("churn") == n
	})
	if err != nil {
		return churnPoint{}, err
	}

	afterReady, cpuReady := scrape(), processCPU(b.op.PID())
	logf("churn: deleting %d ConfigMapSyncs", n)
	deleteStart := time.Now()
	deleted, err := timed(func() error {
		return parallel(ctx, n, func(ctx context.Context, i int) error { return b.c.client.Delete(ctx, sync(i)) })
	})
	if err != nil {
		return churnPoint{}, fmt.Errorf("deleting ConfigMapSyncs: %w", err)
	}
	gone, err := b.w.waitFor(ctx, b.cfg.timeout(n), "no churn copy left", func(w *watcher) bool {
		return w.copiesWith("churn") == 0 && w.syncs["churn-0"] == 0
	})
	if err != nil {
		return churnPoint{}, err
	}
	afterGone, cpuGone := scrape(), processCPU(b.op.PID())
	peak, err := peakRSS(b.op.PID())
	if err != nil {
		logf("churn: %v", err)
	}
	what := fmt.Sprintf("%d creates", n)
	b.add(
		compared("churn", fmt.Sprintf("create %d ConfigMapSyncs (API calls, with admission webhooks)", n),
			created.Seconds(), baseCreate.Seconds(), "s", what, 0),
		compared("churn", fmt.Sprintf("%d ConfigMapSyncs, from first create until all Ready", n),
			ready.Sub(start).Seconds(), baseCreate.Seconds(), "s", what, 0),
		compared("churn", fmt.Sprintf("delete %d ConfigMapSyncs, until no copy is left", n),
			gone.Sub(deleteStart).Seconds(), baseDelete.Seconds(), "s", fmt.Sprintf("%d deletes", n), 0),
	)
	b.figures[len(b.figures)-2].Note = fmt.Sprintf("the API server served %s; %s; the direct baseline: 1 create, %s",
		requestsPerObject(beforeCreate, afterReady, n), cpuPerObject(cpuBeforeCreate, cpuReady, n),
		cpuPerObject(cpuStart, cpuDirectCreated, n))
	b.figures[len(b.figures)-1].Note = fmt.Sprintf("operator peak RSS over the round %.1f MiB; the delete calls themselves took %.2f s; the API server served %s; %s; the direct baseline: 1 delete, %s",
		mib(peak), deleted.Seconds(), requestsPerObject(afterReady, afterGone, n), cpuPerObject(cpuReady, cpuGone, n),
		cpuPerObject(cpuDirectCreated, cpuDirectDeleted, n))
	floorWhat := "the same API work done directly (create through the webhooks, finalizer, copy, status)"
	b.add(
		compared("churn", fmt.Sprintf("%d ConfigMapSyncs until all Ready, against their floor", n),
			ready.Sub(start).Seconds(), floorCreate.Seconds(), "s", floorWhat, churnFloorRatio),
		compared("churn", fmt.Sprintf("%d ConfigMapSyncs deleted until no copy is left, against their floor", n),
			gone.Sub(deleteStart).Seconds(), floorDelete.Seconds(), "s",
			"the same API work done directly (delete, copy delete, finalizer removal)", churnFloorRatio),
		atMost("churn", fmt.Sprintf("operator CPU per ConfigMapSync created (%d)", n),
			operatorCPUMillis(cpuBeforeCreate, cpuReady, n), "ms", churnCPULimitMillis),
		atMost("churn", fmt.Sprintf("operator CPU per ConfigMapSync deleted (%d)", n),
			operatorCPUMillis(cpuReady, cpuGone, n), "ms", churnCPULimitMillis),
	)
	return churnPoint{
		N: n, CreateSeconds: created.Seconds(), ReadySeconds: ready.Sub(start).Seconds(), DeleteSeconds: gone.Sub(deleteStart).Seconds(),
		DirectCreateSeconds: baseCreate.Seconds(), DirectDeleteSeconds: baseDelete.Seconds(),
		FloorCreateSeconds: floorCreate.Seconds(), FloorDeleteSeconds: floorDelete.Seconds(),
	}, nil
}

// memory measures the operator's RSS before and after 2,000 and then 20,000 unrelated 10 KiB Secrets exist.
func (b *bench) memory(ctx context.Context) error {
	const namespaces = 10
	steps := b.cfg.secretSteps
	names, err := createNamespaces(ctx, b.c.client, "unrelated", namespaces, nil)
	if err != nil {
		return err
	}
	logf("memory: operator RSS before (settling %s)", b.cfg.settle)
	before, err := settledRSS(ctx, b.op.PID(), b.cfg.settle)
	if err != nil {
		return err
	}
	heapBefore := b.heapInUse(ctx)
	payload := make([]byte, 10<<10)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	have := 0
	for _, total := range steps {
		logf("memory: creating Secrets %d..%d", have, total)
		err := parallel(ctx, total-have, func(ctx context.Context, i int) error {
			i += have
			return b.c.client.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: names[i%namespaces], Name: fmt.Sprintf("unrelated-%d", i)},
				Data:       map[string][]byte{"payload": payload},
			})
		})
		if err != nil {
			return fmt.Errorf("creating Secrets: %w", err)
		}
		have = total
		after, err := settledRSS(ctx, b.op.PID(), b.cfg.settle)
		if err != nil {
			return err
		}
		limit := 5.0
		if total > 2000 {
			limit = 20
		}
		f := bounded("memory", fmt.Sprintf("operator RSS growth with %d unrelated 10 KiB Secrets", total), mib(after-before), "MiB", limit)
		f.Note = fmt.Sprintf("RSS %.1f MiB before, %.1f MiB after (peak of 5 s of samples after %s settling); Go heap in use %.1f → %.1f MiB",
			mib(before), mib(after), b.cfg.settle, mib(heapBefore), mib(b.heapInUse(ctx)))
		b.add(f)
	}
	return nil
}

// heapInUse is the operator's go_memstats_heap_inuse_bytes (0 when the scrape fails).
func (b *bench) heapInUse(ctx context.Context) float64 {
	m, err := scrapeOperator(ctx, b.op.metricsAddr)
	if err != nil {
		return 0
	}
	return m.sum("go_memstats_heap_inuse_bytes", nil)
}

// noopResync lets ConfigMapSyncs with the shortest syncFrequency resync with nothing changed for more than two
// periods, and counts the writes made meanwhile: by the operator's copy-write metric, by its client's request
// metric (which includes leader-election renewals), and by the API server's request metric per resource (which
// tells Lease renewals apart from everything else; nothing but the operator runs during the window).
func (b *bench) noopResync(ctx context.Context) error {
	const syncs = 20
	if _, err := createNamespaces(ctx, b.c.client, "noop", 6, nil); err != nil {
		return err
	}
	if err := b.c.client.Create(ctx, configMap("noop-0", "noop", "noop")); err != nil {
		return err
	}
	for i := range syncs {
		dest := syncv1.Destination{Namespaces: []string{fmt.Sprintf("noop-%d", 1+i%5)}, Name: fmt.Sprintf("noop-%d", i)}
		if err := b.c.client.Create(ctx, newSync("noop-0", fmt.Sprintf("noop-%d", i), "noop", dest, syncv1.MinSyncFrequency)); err != nil {
			return err
		}
	}
	if _, err := b.w.waitFor(ctx, time.Minute, "no-op ConfigMapSyncs Ready", func(w *watcher) bool {
		return w.readySyncs["noop-0"] == syncs && w.copiesWith("noop") == syncs
	}); err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // Let the last status patches of the first syncs land before counting.

	window := b.cfg.noopWindow
	logf("noop: counting writes over %s of resyncs every %s", window, syncv1.MinSyncFrequency)
	op0, api0, err := b.scrapeBoth(ctx)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	op1, api1, err := b.scrapeBoth(ctx)
	if err != nil {
		return err
	}
	delta := func(name string, m0, m1 metricSet, match func(map[string]string) bool) float64 {
		return m1.sum(name, match) - m0.sum(name, match)
	}
	copyWrites := delta("configmapsync_copy_writes_total", op0, op1, nil)
	resyncs := delta("configmapsync_sync_duration_seconds_count", op0, op1, nil)
	clientWrites := delta("rest_client_requests_total", op0, op1, isWrite)
	apiWrites := map[string]float64{}
	for res, v := range api1.sumBy("apiserver_request_total", "resource", isAPIWrite) {
		if d := v - api0.sumBy("apiserver_request_total", "resource", isAPIWrite)[res]; d > 0 {
			apiWrites[res] = d
		}
	}
	var nonLease float64
	for res, v := range apiWrites {
		if !notStored[res] {
			nonLease += v
		}
	}
	f := bounded("no-op resync", fmt.Sprintf("copy writes over %s (%d syncs every %s)", window, syncs, syncv1.MinSyncFrequency), copyWrites, "writes", 0)
	f.Note = fmt.Sprintf("%.0f resyncs ran in the window (configmapsync_sync_duration_seconds_count)", resyncs)
	g := bounded("no-op resync", "API writes other than Lease renewals (API server, all clients)", nonLease, "writes", 0)
	g.Note = fmt.Sprintf("writes on the API server by resource: %v; the operator's client made %.0f writes "+
		"(rest_client_requests_total POST/PUT/PATCH/DELETE), which with no other write are its leader-election renewals "+
		"(one PUT per 2 s retry period, ~%.0f expected); the API server also renews its own identity Lease",
		roundMap(apiWrites), clientWrites, window.Seconds()/2)
	b.add(f, g)
	return nil
}

// scrapeBoth scrapes the operator's and the API server's metrics.
func (b *bench) scrapeBoth(ctx context.Context) (metricSet, metricSet, error) {
	op, err := scrapeOperator(ctx, b.op.metricsAddr)
	if err != nil {
		return nil, nil, err
	}
	api, err := scrapeAPIServer(ctx, b.c)
	return op, api, err
}

// operatorRestarts reports how often the operator exited on its own during the run (target 0); the bench's own
// kills and restarts do not count.
func operatorRestarts(log []string) figure {
	f := bounded("stability", "operator restarts during the run (exits on its own, e.g. lost leader election)",
		float64(len(log)), "restarts", 0)
	if len(log) > 0 {
		f.Note = "exits: " + strings.Join(log, "; ")
	}
	return f
}

// percentile returns the p-th percentile (nearest rank) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(bytes float64) float64 { return bytes / (1 << 20) }

// roundMap rounds counts for printing.
func roundMap(m map[string]float64) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = int(math.Round(v))
	}
	return out
}

// notStored are the resources whose writes a no-op resync may make: Lease renewals, and the SubjectAccessReviews
// with which each sync re-checks its requester's rights (reviews are answered, never stored).
var notStored = map[string]bool{"leases": true, "subjectaccessreviews": true}
