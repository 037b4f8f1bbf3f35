package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// The fanout-size scenario's memory targets: what one fan-out may add to the operator's settled RSS, and the
// peak a memory limit would have to allow, whatever the number of copies and their size.
const (
	curveRSSGrowthLimit = 32  // MiB
	curvePeakRSSLimit   = 128 // MiB
	curveTimeRatio      = 1.5 // operator time / direct time
)

// curveSourceNamespace holds the fanout-size scenario's sources and ConfigMapSyncs.
const curveSourceNamespace = "curve-source-0"

// curves are the points of the fanout-size and churn curves, for latest.json, latest.md and curves.png.
type curves struct {
	// NamespacesSizeBytes is the ConfigMap size of the namespace curve; SizeNamespaces the fan-out of the size curve.
	NamespacesSizeBytes int           `json:"namespacesSizeBytes"`
	SizeNamespaces      int           `json:"sizeNamespaces"`
	FanOut              []fanOutPoint `json:"fanOut,omitempty"`
	Churn               []churnPoint  `json:"churn,omitempty"`
}

// fanOutPoint is one measured fan-out: one source of SizeBytes copied into N namespaces, then changed once.
type fanOutPoint struct {
	N                   int     `json:"namespaces"`
	SizeBytes           int     `json:"sizeBytes"`
	FanOutSeconds       float64 `json:"fanOutSeconds"`
	DirectCreateSeconds float64 `json:"directCreateSeconds"`
	UpdateSeconds       float64 `json:"updateSeconds"`
	DirectUpdateSeconds float64 `json:"directUpdateSeconds"`
	RSSGrowthMiB        float64 `json:"rssGrowthMiB"`
	PeakRSSMiB          float64 `json:"peakRSSMiB"`
	// Restarts counts the operator's own exits during the point (its memory figures are then of the last process).
	Restarts int `json:"restarts,omitempty"`
}

// churnPoint is one churn round of N ConfigMapSyncs.
type churnPoint struct {
	N                   int     `json:"configMapSyncs"`
	CreateSeconds       float64 `json:"createSeconds"`
	ReadySeconds        float64 `json:"readySeconds"`
	DeleteSeconds       float64 `json:"deleteSeconds"`
	DirectCreateSeconds float64 `json:"directCreateSeconds"`
	DirectDeleteSeconds float64 `json:"directDeleteSeconds"`
	FloorCreateSeconds  float64 `json:"floorCreateSeconds,omitempty"`
	FloorDeleteSeconds  float64 `json:"floorDeleteSeconds,omitempty"`
}

// curvePoint is one fan-out the fanout-size scenario measures: one source of size bytes into n namespaces.
type curvePoint struct{ n, size int }

// String names the point in metrics and logs, e.g. "1 MiB ConfigMap to 1000 namespaces".
func (p curvePoint) String() string {
	return fmt.Sprintf("%s ConfigMap to %d namespaces", sizeName(p.size), p.n)
}

// curvePoints lists the namespace curve (curveSize, ascending N), then the size curve (curveSizeNamespaces,
// ascending size). A point on both curves is listed once, so it is measured once and reported in both.
func (c config) curvePoints() []curvePoint {
	points := make([]curvePoint, 0, len(c.curveNamespaces)+len(c.curveSizes))
	for _, n := range slices.Sorted(slices.Values(c.curveNamespaces)) {
		points = append(points, curvePoint{n: n, size: curveSize})
	}
	for _, size := range slices.Sorted(slices.Values(c.curveSizes)) {
		points = append(points, curvePoint{n: c.curveSizeNamespaces, size: size})
	}
	seen := map[curvePoint]bool{}
	return slices.DeleteFunc(points, func(p curvePoint) bool {
		dup := seen[p]
		seen[p] = true
		return dup
	})
}

// firstLabel is the namespace label the ConfigMapSync of an n-namespace point selects: exactly the namespaces
// curve-0 ... curve-(n-1) carry it.
func firstLabel(n int) string { return fmt.Sprintf("bench.configmapsync.io/first-%d", n) }

// fanOutSize measures, point by point, the fan-out of one source ConfigMap to N namespaces chosen by a label, and
// one change of it, next to the same creates and updates made directly, with the operator's RSS growth and peak:
// the issue asks for a cost that grows with neither the number of copies nor their size. At the largest size of
// the size curve it also restarts the operator with the copies in place (restartWithCopies).
func (b *bench) fanOutSize(ctx context.Context) error {
	points := b.cfg.curvePoints()
	ns := make([]int, 0, len(points))
	for _, p := range points {
		ns = append(ns, p.n)
	}
	slices.Sort(ns)
	ns = slices.Compact(ns)
	logf("fanout-size: preparing %d namespaces", ns[len(ns)-1])
	namespaces, err := createLabeledNamespaces(ctx, b.c.client, "curve", ns[len(ns)-1], func(i int) map[string]string {
		lbls := map[string]string{}
		for _, n := range ns {
			if i < n {
				lbls[firstLabel(n)] = "true"
			}
		}
		return lbls
	})
	if err != nil {
		return err
	}
	if _, err := createNamespaces(ctx, b.c.client, "curve-source", 1, nil); err != nil {
		return err
	}
	restartAt := curvePoint{n: b.cfg.curveSizeNamespaces, size: slices.Max(b.cfg.curveSizes)}
	for _, p := range points {
		fp, err := b.fanOutPoint(ctx, p, namespaces[:p.n], p == restartAt)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		b.curves.FanOut = append(b.curves.FanOut, fp)
	}
	return nil
}

// fanOutPoint measures one point: the direct baseline, then the operator's fan-out and update with its memory, the
// restart when asked, and the clean-up, which leaves nothing of the point behind for the next one.
func (b *bench) fanOutPoint(ctx context.Context, p curvePoint, namespaces []string, restart bool) (fanOutPoint, error) {
	logf("fanout-size: %s: direct baseline, %d creates, updates and deletes", p, p.n)
	direct, err := b.directFanOut(ctx, namespaces, p.size)
	if err != nil {
		return fanOutPoint{}, err
	}
	// Each point's memory is that of a fresh process: otherwise its peak sits on what the scenarios before it
	// (10,000 ConfigMapSyncs of churn) left in the Go heap.
	if _, err := b.freshOperator(ctx); err != nil {
		return fanOutPoint{}, err
	}
	restartsBefore := len(b.op.UnplannedExits())
	name := fmt.Sprintf("curve-%d-%d", p.n, p.size)
	source := sizedConfigMap(curveSourceNamespace, name, name+"-1", p.size)
	cms := newSync(curveSourceNamespace, name, name, syncv1.Destination{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{firstLabel(p.n): "true"}},
	}, "")
	run, err := b.operatorFanOut(ctx, p, source, cms)
	if err != nil {
		return fanOutPoint{}, err
	}
	if restart {
		if err := b.restartWithCopies(ctx, p); err != nil {
			return fanOutPoint{}, fmt.Errorf("restarting with the copies in place: %w", err)
		}
	}
	logf("fanout-size: %s: deleting the ConfigMapSync, until no copy is left", p)
	cleanup, err := b.deleteFanOut(ctx, p.n, source, cms)
	if err != nil {
		return fanOutPoint{}, err
	}

	restarts := b.op.UnplannedExits()[restartsBefore:]
	if len(restarts) > 0 {
		run.memNotes = append(run.memNotes, fmt.Sprintf("the operator restarted on its own during this point (%s), so "+
			"its memory figures are of the process that ran last", strings.Join(restarts, "; ")))
	}
	fp := fanOutPoint{
		N: p.n, SizeBytes: p.size, FanOutSeconds: run.fanOut.Seconds(), DirectCreateSeconds: direct.create.Seconds(),
		UpdateSeconds: run.update.Seconds(), DirectUpdateSeconds: direct.update.Seconds(),
		RSSGrowthMiB: mib(run.after - run.before), PeakRSSMiB: mib(run.peak), Restarts: len(restarts),
	}
	b.addFanOutFigures(p, fp, direct, cleanup, run)
	return fp, nil
}

// operatorRun is what operatorFanOut measured.
type operatorRun struct {
	fanOut, update time.Duration
	// before and after are the settled RSS around the fan-out, peak the VmHWM over fan-out and update, heap*
	// go_memstats_heap_inuse_bytes around the fan-out; all in bytes.
	before, after, peak, heapBefore, heapAfter float64
	memNotes                                   []string
}

// operatorFanOut creates source and cms, times until every copy holds the source's value, then changes the source once and times
// until every copy holds the change; it reads the operator's settled RSS before and after the fan-out and its peak
// over both, from a peak reset just before.
func (b *bench) operatorFanOut(ctx context.Context, p curvePoint, source *corev1.ConfigMap, cms *syncv1.ConfigMapSync) (operatorRun, error) {
	var run operatorRun
	var err error
	if run.before, err = b.onOperator(b.settledRSS(ctx)); err != nil {
		return run, err
	}
	if err := resetPeakRSS(b.op.PID()); err != nil {
		run.memNotes = append(run.memNotes, fmt.Sprintf("the peak RSS could not be reset (%v), so it is the peak since the operator started", err))
	}
	run.heapBefore = b.heapInUse(ctx)

	logf("fanout-size: %s: operator fan-out", p)
	first, second := source.Data[valueKey], source.Name+"-2"
	if err := b.c.client.Create(ctx, source); err != nil {
		return run, err
	}
	if run.fanOut, err = b.syncedIn(ctx, p.n, first, func() error { return b.c.client.Create(ctx, cms) }); err != nil {
		return run, err
	}
	if run.after, err = b.onOperator(b.settledRSS(ctx)); err != nil {
		return run, err
	}
	run.heapAfter = b.heapInUse(ctx)

	logf("fanout-size: %s: operator update", p)
	source.Data[valueKey] = second
	if run.update, err = b.syncedIn(ctx, p.n, second, func() error { return b.c.client.Update(ctx, source) }); err != nil {
		return run, err
	}
	run.peak, err = b.onOperator(peakRSS)
	return run, err
}

// deleteFanOut deletes cms, times until the operator has deleted its n copies (they hold the source's current
// value) and the ConfigMapSync is gone, then deletes source.
func (b *bench) deleteFanOut(ctx context.Context, n int, source *corev1.ConfigMap, cms *syncv1.ConfigMapSync) (time.Duration, error) {
	value := source.Data[valueKey]
	took, err := timed(func() error {
		if err := b.c.client.Delete(ctx, cms); err != nil {
			return err
		}
		_, err := b.w.waitFor(ctx, b.cfg.timeout(n), "no copy holding "+value, func(w *watcher) bool {
			return w.copiesWith(value) == 0 && w.syncs[cms.Namespace] == 0
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	return took, b.c.client.Delete(ctx, source)
}

// addFanOutFigures records one point's four figures: fan-out and update time against the direct ones, RSS growth
// and peak RSS against their limits.
func (b *bench) addFanOutFigures(p curvePoint, fp fanOutPoint, direct directTimes, cleanup time.Duration, run operatorRun) {
	fanOut := compared("fanout-size", fmt.Sprintf("fan-out: %s, until all copies exist", p),
		fp.FanOutSeconds, fp.DirectCreateSeconds, "s", fmt.Sprintf("%d creates", p.n), curveTimeRatio)
	fanOut.Note = fmt.Sprintf("payload %d bytes; the direct deletes took %.2f s; deleting the ConfigMapSync took %.2f s "+
		"until no copy was left", min(p.size, maxPayload), direct.delete.Seconds(), cleanup.Seconds())
	update := compared("fanout-size", fmt.Sprintf("update: %s, source change until all copies match", p),
		fp.UpdateSeconds, fp.DirectUpdateSeconds, "s", fmt.Sprintf("%d updates", p.n), curveTimeRatio)
	growth := bounded("fanout-size", fmt.Sprintf("RSS growth: %s, after the fan-out", p), fp.RSSGrowthMiB, "MiB", curveRSSGrowthLimit)
	growth.Note = strings.Join(append([]string{fmt.Sprintf(
		"RSS %.1f MiB before, %.1f MiB after (peak of 5 s of samples after %s settling); Go heap in use %.1f → %.1f MiB",
		mib(run.before), mib(run.after), b.cfg.settle, mib(run.heapBefore), mib(run.heapAfter))}, run.memNotes...), "; ")
	peak := bounded("fanout-size", fmt.Sprintf("peak RSS: %s, over fan-out and update", p), fp.PeakRSSMiB, "MiB", curvePeakRSSLimit)
	peak.Note = strings.Join(append([]string{"VmHWM, reset before the fan-out"}, run.memNotes...), "; ")
	b.add(fanOut, update, growth, peak)
}

// directTimes are the direct baseline of one point.
type directTimes struct{ create, update, delete time.Duration }

// directFanOut creates, updates and deletes a ConfigMap of size bytes in each of namespaces, `workers` in
// parallel, timing each step. The updates are unconditional (no resourceVersion), so that the bench need not keep
// the objects the creates returned: each holds its own decoded copy of the payload, 1 GiB for 1000 of 1 MiB.
func (b *bench) directFanOut(ctx context.Context, namespaces []string, size int) (directTimes, error) {
	var t directTimes
	each := func(what string, call func(ctx context.Context, i int) error) (time.Duration, error) {
		d, err := timed(func() error { return parallel(ctx, len(namespaces), call) })
		if err != nil {
			return 0, fmt.Errorf("direct %s: %w", what, err)
		}
		return d, nil
	}
	var err error
	if t.create, err = each("creates", func(ctx context.Context, i int) error {
		return b.c.client.Create(ctx, sizedConfigMap(namespaces[i], "curve-direct", "direct-1", size))
	}); err != nil {
		return t, err
	}
	if t.update, err = each("updates", func(ctx context.Context, i int) error {
		return b.c.client.Update(ctx, sizedConfigMap(namespaces[i], "curve-direct", "direct-2", size))
	}); err != nil {
		return t, err
	}
	t.delete, err = each("deletes", func(ctx context.Context, i int) error {
		return b.c.client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespaces[i], Name: "curve-direct"}})
	})
	return t, err
}

// syncedIn makes write and returns how long until the watcher sees n copies holding value.
func (b *bench) syncedIn(ctx context.Context, n int, value string, write func() error) (time.Duration, error) {
	start := time.Now()
	if err := write(); err != nil {
		return 0, err
	}
	done, err := b.w.waitFor(ctx, b.cfg.timeout(n), fmt.Sprintf("%d copies holding %s", n, value),
		func(w *watcher) bool { return w.copiesWith(value) == n })
	return done.Sub(start), err
}

// settledRSS returns settledRSS of a pid with the bench's settle time, for onOperator.
func (b *bench) settledRSS(ctx context.Context) func(pid int) (float64, error) {
	return func(pid int) (float64, error) { return settledRSS(ctx, pid, b.cfg.settle) }
}

// onOperator measures the operator's process, and measures again the new one if the operator was restarted
// meanwhile (the old /proc entry is gone); the figure's note then reports the restart.
func (b *bench) onOperator(measure func(pid int) (float64, error)) (float64, error) {
	pid := b.op.PID()
	v, err := measure(pid)
	if err != nil && b.op.PID() != pid {
		return measure(b.op.PID())
	}
	return v, err
}

// freshOperator restarts the operator (SIGTERM, as a rollout does) and waits until the new process leads. It
// returns when the restart began.
func (b *bench) freshOperator(ctx context.Context) (time.Time, error) {
	former, err := b.c.leaseHolder(ctx)
	if err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	if err := b.op.restart(); err != nil {
		return start, err
	}
	return start, b.op.waitReady(ctx, b.c, former)
}

// restartWithCopies restarts the operator while the point's n copies exist, and reports its peak RSS from start-up
// until it leads, has taken the copies into account and settled: whether listing what it copied costs memory in
// proportion to it.
func (b *bench) restartWithCopies(ctx context.Context, p curvePoint) error {
	logf("fanout-size: restarting the operator with %d copies of %s in the cluster", p.n, sizeName(p.size))
	start, err := b.freshOperator(ctx)
	if err != nil {
		return err
	}
	ready := time.Since(start)
	synced := b.waitCopiesManaged(ctx, p.n, start)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rss, err := b.onOperator(b.settledRSS(ctx))
	if err != nil {
		return err
	}
	peak, err := b.onOperator(peakRSS)
	if err != nil {
		return err
	}
	m, _ := scrapeOperator(ctx, b.op.metricsAddr) // nil on failure: its sums are then 0.
	f := bounded("fanout-size", fmt.Sprintf("peak RSS: operator start-up with %d copies of %s in the cluster", p.n, sizeName(p.size)),
		mib(peak), "MiB", curvePeakRSSLimit)
	f.Note = fmt.Sprintf("VmHWM of a new process (stopped with SIGTERM and started again with the copies in place); "+
		"ready and leading after %.1f s; %s; it then wrote %.0f copies (configmapsync_copy_writes_total); "+
		"settled RSS %.1f MiB, Go heap in use %.1f MiB",
		ready.Seconds(), synced, m.sum("configmapsync_copy_writes_total", nil), mib(rss), m.sum("go_memstats_heap_inuse_bytes", nil)/(1<<20))
	b.add(f)
	return nil
}

// waitCopiesManaged waits until the restarted operator counts at least n managed copies
// (configmapsync_copies_managed), which it does once it has synced the point's ConfigMapSync: the copies other
// scenarios leave behind are fewer than a point's. It says what it saw, for the note.
func (b *bench) waitCopiesManaged(ctx context.Context, n int, since time.Time) string {
	waitCtx, cancel := context.WithTimeout(ctx, b.cfg.timeout(n))
	defer cancel()
	var managed float64
	err := poll(waitCtx, 500*time.Millisecond, func() (bool, error) {
		if m, err := scrapeOperator(waitCtx, b.op.metricsAddr); err == nil {
			managed = m.sum("configmapsync_copies_managed", nil)
		}
		return managed >= float64(n), nil
	})
	if err != nil {
		return fmt.Sprintf("it did not report %d managed copies (configmapsync_copies_managed %.0f, %v)", n, managed, err)
	}
	return fmt.Sprintf("it reported %.0f managed copies %.1f s after the restart", managed, time.Since(since).Seconds())
}

// sizeName prints a size in bytes as KiB or MiB, e.g. "100 KiB".
func sizeName(bytes int) string {
	switch {
	case bytes >= 1<<20 && bytes%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", bytes>>20)
	case bytes >= 1<<10 && bytes%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", bytes>>10)
	default:
		return fmt.Sprintf("%d B", bytes)
	}
}

// empty reports whether there is nothing to show.
func (c *curves) empty() bool { return c == nil || len(c.FanOut)+len(c.Churn) == 0 }

// markdown renders the curves as one table per curve.
func (c *curves) markdown() string {
	var b strings.Builder
	b.WriteString("\n## Curves (curves.png)\n\n")
	fanOutHeader := " | fan-out, operator | direct creates | ratio | update, operator | direct updates | ratio | RSS growth | peak RSS |\n" +
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
	row := func(first string, p fanOutPoint) {
		fmt.Fprintf(&b, "| %s | %.2f s | %.2f s | %s | %.2f s | %.2f s | %s | %.1f MiB | %.1f MiB |\n", first,
			p.FanOutSeconds, p.DirectCreateSeconds, ratioText(p.FanOutSeconds, p.DirectCreateSeconds),
			p.UpdateSeconds, p.DirectUpdateSeconds, ratioText(p.UpdateSeconds, p.DirectUpdateSeconds), p.RSSGrowthMiB, p.PeakRSSMiB)
	}
	if ps := c.byNamespaces(); len(ps) > 0 {
		fmt.Fprintf(&b, "### Fan-out of one %s ConfigMap against the number of namespaces\n\n| namespaces%s", sizeName(c.NamespacesSizeBytes), fanOutHeader)
		for _, p := range ps {
			row(fmt.Sprint(p.N), p)
		}
		b.WriteString("\n")
	}
	if ps := c.bySize(); len(ps) > 0 {
		fmt.Fprintf(&b, "### Fan-out to %d namespaces against the ConfigMap's size\n\n| size%s", c.SizeNamespaces, fanOutHeader)
		for _, p := range ps {
			row(sizeName(p.SizeBytes), p)
		}
		b.WriteString("\n")
	}
	if len(c.Churn) > 0 {
		b.WriteString("### Churn against the number of ConfigMapSyncs\n\n" +
			"| ConfigMapSyncs | create calls | until all Ready | direct creates | ratio | delete, until no copy | direct deletes | ratio |\n" +
			"|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, p := range c.Churn {
			fmt.Fprintf(&b, "| %d | %.2f s | %.2f s | %.2f s | %s | %.2f s | %.2f s | %s |\n", p.N, p.CreateSeconds,
				p.ReadySeconds, p.DirectCreateSeconds, ratioText(p.ReadySeconds, p.DirectCreateSeconds),
				p.DeleteSeconds, p.DirectDeleteSeconds, ratioText(p.DeleteSeconds, p.DirectDeleteSeconds))
		}
		b.WriteString("\n")
	}
	b.WriteString("Ratios are operator / direct. RSS growth is the settled RSS after the fan-out minus before; peak RSS is " +
		"the operator's VmHWM over fan-out and update, reset before each point; each point runs on a freshly restarted operator. curves.png draws these tables, one panel " +
		"per curve with a logarithmic x axis: operator lines in blue and purple, direct ones in greys, the peak RSS limit in orange.\n")
	return b.String()
}

// byNamespaces is the namespace curve: the points of its size, by N.
func (c *curves) byNamespaces() []fanOutPoint {
	ps := slices.DeleteFunc(slices.Clone(c.FanOut), func(p fanOutPoint) bool { return p.SizeBytes != c.NamespacesSizeBytes })
	slices.SortFunc(ps, func(a, b fanOutPoint) int { return a.N - b.N })
	return ps
}

// bySize is the size curve: the points of its fan-out, by size.
func (c *curves) bySize() []fanOutPoint {
	ps := slices.DeleteFunc(slices.Clone(c.FanOut), func(p fanOutPoint) bool { return p.N != c.SizeNamespaces })
	slices.SortFunc(ps, func(a, b fanOutPoint) int { return a.SizeBytes - b.SizeBytes })
	return ps
}

// ratioText prints value / baseline, or a dash without a baseline.
func ratioText(value, baseline float64) string {
	if baseline <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2fx", value/baseline)
}

// panels turns the curves into the line charts of curves.png; a curve with no point has no panel.
func (c *curves) panels() []panel {
	var out []panel
	memory := func(title string, xs []float64, xLabel func(float64) string, ps []fanOutPoint) panel {
		return panel{title: title, xs: xs, xLabel: xLabel, unit: "MiB", lines: []series{
			{name: "peak RSS", color: colorOperator, ys: column(ps, func(p fanOutPoint) float64 { return p.PeakRSSMiB })},
			{name: "RSS growth", color: colorGrowth, ys: column(ps, func(p fanOutPoint) float64 { return p.RSSGrowthMiB })},
			{name: "peak limit", color: colorLimit, ys: column(ps, func(fanOutPoint) float64 { return curvePeakRSSLimit })},
		}}
	}
	times := func(title string, xs []float64, xLabel func(float64) string, ps []fanOutPoint) panel {
		return panel{title: title, xs: xs, xLabel: xLabel, unit: "s", lines: []series{
			{name: "operator fan-out", color: colorOperator, ys: column(ps, func(p fanOutPoint) float64 { return p.FanOutSeconds })},
			{name: "direct creates", color: colorBaseline, ys: column(ps, func(p fanOutPoint) float64 { return p.DirectCreateSeconds })},
			{name: "operator update", color: colorOperator2, ys: column(ps, func(p fanOutPoint) float64 { return p.UpdateSeconds })},
			{name: "direct updates", color: colorBaseline2, ys: column(ps, func(p fanOutPoint) float64 { return p.DirectUpdateSeconds })},
		}}
	}
	count := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	if ps := c.byNamespaces(); len(ps) > 0 {
		xs := column(ps, func(p fanOutPoint) float64 { return float64(p.N) })
		size := sizeName(c.NamespacesSizeBytes)
		out = append(out, times("time against namespaces ("+size+")", xs, count, ps),
			memory("operator memory against namespaces ("+size+")", xs, count, ps))
	}
	if ps := c.bySize(); len(ps) > 0 {
		xs := column(ps, func(p fanOutPoint) float64 { return float64(p.SizeBytes) })
		bytes := func(x float64) string { return sizeName(int(x)) }
		n := fmt.Sprintf(" (%d namespaces)", c.SizeNamespaces)
		out = append(out, times("time against size"+n, xs, bytes, ps), memory("operator memory against size"+n, xs, bytes, ps))
	}
	if len(c.Churn) > 0 {
		ps := c.Churn
		xs := column(ps, func(p churnPoint) float64 { return float64(p.N) })
		out = append(out, panel{title: "churn time against ConfigMapSyncs", xs: xs, xLabel: count, unit: "s", lines: []series{
			{name: "operator until Ready", color: colorOperator, ys: column(ps, func(p churnPoint) float64 { return p.ReadySeconds })},
			{name: "floor (same API work, direct)", color: colorBaseline, ys: column(ps, func(p churnPoint) float64 { return p.FloorCreateSeconds })},
			{name: "operator delete", color: colorOperator2, ys: column(ps, func(p churnPoint) float64 { return p.DeleteSeconds })},
			{name: "floor of deletion", color: colorBaseline2, ys: column(ps, func(p churnPoint) float64 { return p.FloorDeleteSeconds })},
		}})
	}
	return out
}

// column picks one number of each point.
func column[P any](ps []P, get func(P) float64) []float64 {
	ys := make([]float64, len(ps))
	for i, p := range ps {
		ys[i] = get(p)
	}
	return ys
}
