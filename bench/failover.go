package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness/localport"
)

// The failover scenario's shape: how many graceful handovers it times after the kills, how many ConfigMapSyncs
// (one copy each) the replicas' caches hold meanwhile, so that a new leader has something to list and reconcile,
// and how many namespaces their copies are spread over.
const (
	failoverHandovers    = 3
	failoverLoad         = 500
	failoverDestinations = 10
)

// failoverSettle is how long both replicas run ready before the bench signals the leader: the restarted one's
// informers have synced and its Lease polls, like the leader's renewals, are back to their rhythm.
const failoverSettle = 3 * time.Second

// failoverNamespace holds the failover scenario's sources and ConfigMapSyncs; the measured copy goes to
// failoverCopyNamespace.
const (
	failoverNamespace     = "failover-0"
	failoverCopyNamespace = "failover-1"
)

// The operator's log messages the failover scenario reads: client-go's leader election, controller-runtime's
// controller start, and the operator's write of a copy.
const (
	msgAcquired     = "Successfully acquired lease"
	msgStartManager = "Starting manager"
	msgStartSource  = "Starting EventSource"
	msgStartWorkers = "Starting workers"
	msgSyncedCopy   = "Synced copy"
	// failoverController is the controller whose start the scenario reads (controllers.ConfigMapSyncReconciler).
	failoverController = "configmapsync"
)

// leaseSettings are the operator's leader-election timings.
type leaseSettings struct{ duration, renewDeadline, retryPeriod time.Duration }

// leaseSettingsOf reads the leader-election timings from the operator's arguments (the last value of a flag wins,
// as with the flag package), and those not given from the defaults the binary prints with -h: they change with
// the operator, so the bench does not keep its own copy.
func leaseSettingsOf(manager string, args []string) (leaseSettings, error) {
	defaults, err := flagDefaults(manager)
	if err != nil {
		return leaseSettings{}, err
	}
	var l leaseSettings
	for name, to := range map[string]*time.Duration{
		"leader-election-lease-duration": &l.duration,
		"leader-election-renew-deadline": &l.renewDeadline,
		"leader-election-retry-period":   &l.retryPeriod,
	} {
		d, err := time.ParseDuration(flagValue(args, name, defaults[name]))
		if err != nil {
			return l, fmt.Errorf("--%s: %w", name, err)
		}
		*to = d
	}
	return l, nil
}

// flagDefaults runs the binary with -h and reads the defaults of its flags from the flag package's usage text:
// "  -name type" and, on the last line of the description below it, "(default value)".
func flagDefaults(manager string) (map[string]string, error) {
	out, err := exec.Command(manager, "-h").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("reading the defaults of %s -h: %w", manager, err)
	}
	defaults := map[string]string{}
	var name string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "-") && strings.HasPrefix(line, "  -") {
			name = strings.TrimLeft(f[0], "-")
			continue
		}
		if _, def, ok := strings.Cut(line, "(default "); ok && name != "" {
			defaults[name] = strings.TrimSuffix(strings.TrimSpace(def), ")")
		}
	}
	return defaults, nil
}

// String prints the settings for figure notes.
func (l leaseSettings) String() string {
	return fmt.Sprintf("lease duration %s, renew deadline %s, retry period %s", l.duration, l.renewDeadline, l.retryPeriod)
}

// flagValue returns the last value args give the flag name, written -name=v, --name=v, -name v or --name v; def
// when none does.
func flagValue(args []string, name, def string) string {
	v := def
	for i, a := range args {
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if after, ok := strings.CutPrefix(a, name+"="); ok {
			v = after
		} else if a == name && i+1 < len(args) {
			v = args[i+1]
		}
	}
	return v
}

// handover is one measured change of leader: the bench signals the leader, changes the source at once, and times
// until the Lease names someone else and until the copy holds the change.
type handover struct {
	from, to *operatorProcess
	// leaseTaken is the time from the signal until the Lease names a new holder; synced until the copy holds the
	// change.
	leaseTaken, synced time.Duration
	// log is what the new leader's log says about its start as leader.
	log leaderStart
	// busy says how the old leader was still at work when signalled ("" when it was quiet; see quiet).
	busy string
}

// restarted reports whether the signalled replica's new process took over, rather than the waiting follower.
func (h handover) restarted() bool { return h.from == h.to }

// String prints one handover for figure notes: signal to copy, signal to new Lease holder, who took over and what
// its log says.
func (h handover) String() string {
	who := "the follower took over"
	if h.restarted() {
		who = "the restarted process took over, not the follower"
	}
	s := fmt.Sprintf("%.2f s (Lease %.2f s; %s; %s", h.synced.Seconds(), h.leaseTaken.Seconds(), who, h.log)
	if h.busy != "" {
		s += "; " + h.busy
	}
	return s + ")"
}

// failover is the failover scenario's state: the two replicas, and the source whose copy it times.
type failover struct {
	b        *bench
	lease    leaseSettings
	replicas []*operatorProcess
	source   *corev1.ConfigMap
}

// failover runs a second operator replica next to b.op, kills the leader (SIGKILL) BENCH_FAILOVER_KILLS times and
// stops it gracefully (SIGTERM) failoverHandovers times, each time changing a source right after the signal, and
// times until the copy holds the change: the issue asks for a failover within the lease duration + 2 s and a
// graceful handover under 2 s. The signalled replica is restarted by its supervisor, as the kubelet would, and
// becomes the follower. Everything the scenario needs is created before the first kill: only b.op serves the
// webhooks the API server calls, so ConfigMapSync writes fail while it is down; source ConfigMaps have none.
func (b *bench) failover(ctx context.Context) (err error) {
	lease, err := leaseSettingsOf(b.cfg.manager, b.op.args)
	if err != nil {
		return err
	}
	f := &failover{b: b, lease: lease}
	if err := f.setup(ctx); err != nil {
		return err
	}
	follower, err := f.startFollower(ctx)
	if err != nil {
		return err
	}
	f.replicas = []*operatorProcess{b.op, follower}
	defer func() {
		if err != nil {
			follower.tailLog(40)
		}
		err = errors.Join(err, f.stopFollower(ctx, follower))
	}()

	kills, err := f.rounds(ctx, syscall.SIGKILL, b.cfg.failoverKills)
	if err != nil {
		return err
	}
	graceful, err := f.rounds(ctx, syscall.SIGTERM, failoverHandovers)
	if err != nil {
		return err
	}
	b.add(f.figures(kills, graceful)...)
	return nil
}

// setup creates the measured source and its ConfigMapSync, and failoverLoad more ConfigMapSyncs of one copy each,
// and waits until all are Ready.
func (f *failover) setup(ctx context.Context) error {
	c := f.b.c.client
	if _, err := createNamespaces(ctx, c, "failover", 2, nil); err != nil {
		return err
	}
	dest, err := createNamespaces(ctx, c, "failover-dest", failoverDestinations, nil)
	if err != nil {
		return err
	}
	f.source = configMap(failoverNamespace, "failover", "failover-0")
	for _, obj := range []*corev1.ConfigMap{f.source, configMap(failoverNamespace, "failover-load", "failover-load")} {
		if err := c.Create(ctx, obj); err != nil {
			return err
		}
	}
	if err := c.Create(ctx, newSync(failoverNamespace, "failover", "failover",
		syncv1.Destination{Namespaces: []string{failoverCopyNamespace}}, "")); err != nil {
		return err
	}
	logf("failover: creating %d ConfigMapSyncs for the caches to hold", failoverLoad)
	if err := parallel(ctx, failoverLoad, func(ctx context.Context, i int) error {
		return c.Create(ctx, newSync(failoverNamespace, fmt.Sprintf("load-%d", i), "failover-load",
			syncv1.Destination{Namespaces: []string{dest[i%len(dest)]}, Name: fmt.Sprintf("load-%d", i)}, ""))
	}); err != nil {
		return fmt.Errorf("creating ConfigMapSyncs: %w", err)
	}
	_, err = f.b.w.waitFor(ctx, f.b.cfg.timeout(failoverLoad), "all failover ConfigMapSyncs Ready", func(w *watcher) bool {
		return w.readySyncs[failoverNamespace] == failoverLoad+1 && w.copiesWith("failover-load") == failoverLoad &&
			w.copiesWith("failover-0") == 1
	})
	return err
}

// startFollower starts a second replica with the operator's arguments, its own ports and log, and waits until it
// answers /readyz. b.op keeps the Lease: it has held it since the bench started.
func (f *failover) startFollower(ctx context.Context) (*operatorProcess, error) {
	webhookPort, err := localport.Free()
	if err != nil {
		return nil, err
	}
	p, err := startReplica(f.b.c, f.b.cfg.manager, "follower", webhookPort, f.b.cfg.operatorArgs)
	if err != nil {
		return nil, err
	}
	if err := p.waitServing(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// stopFollower stops the follower replica and, if it led, waits until b.op leads again, for what runs next. The
// follower's own exits (those the bench did not cause) go to the stability figure.
func (f *failover) stopFollower(ctx context.Context, follower *operatorProcess) error {
	leader, holder, err := f.leader(ctx)
	former := ""
	if err == nil && leader == follower {
		former = holder
	}
	logf("failover: stopping the follower replica")
	follower.stop()
	for _, r := range follower.UnplannedExits() {
		f.b.otherRestarts = append(f.b.otherRestarts, "follower replica: "+r)
	}
	if ctx.Err() != nil {
		return nil
	}
	return f.b.op.waitReady(ctx, f.b.c, former)
}

// rounds measures n handovers caused by sig, one at a time.
func (f *failover) rounds(ctx context.Context, sig syscall.Signal, n int) ([]handover, error) {
	out := make([]handover, 0, n)
	for i := 1; i <= n; i++ {
		h, err := f.round(ctx, sig, fmt.Sprintf("failover-%s-%d", signalName(sig), i))
		if err != nil {
			return out, fmt.Errorf("%s %d: %w", signalName(sig), i, err)
		}
		logf("failover: %s %d of %d: %s", signalName(sig), i, n, h)
		out = append(out, h)
	}
	return out, nil
}

// round waits for a steady state (both replicas ready, the leader's queue empty), signals the leader, changes the
// source to value right away and times the handover. After SIGKILL the change is written once the leader is gone,
// so that it cannot be the one to sync it; after SIGTERM it is written at once, as a change arriving during a
// rollout would be.
func (f *failover) round(ctx context.Context, sig syscall.Signal, value string) (handover, error) {
	if err := f.steady(ctx); err != nil {
		return handover{}, err
	}
	from, holder, err := f.leader(ctx)
	if err != nil {
		return handover{}, err
	}
	h := handover{from: from, busy: f.quiet(ctx, from)}
	start := time.Now()
	gone, err := from.kill(sig)
	if err != nil {
		return h, err
	}
	if sig == syscall.SIGKILL {
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			return h, fmt.Errorf("the %s did not exit after SIGKILL", from.name)
		}
	}
	f.source.Data[valueKey] = value
	if err := f.b.c.client.Update(ctx, f.source); err != nil {
		return h, fmt.Errorf("changing the source: %w", err)
	}
	timeout := 2*f.lease.duration + time.Minute
	taken := make(chan error, 1)
	go func() {
		at, err := f.newHolder(ctx, holder, timeout)
		h.leaseTaken = at.Sub(start)
		taken <- err
	}()
	synced, err := f.b.w.waitFor(ctx, timeout, "the failover copy holding "+value, func(w *watcher) bool { return w.copiesWith(value) == 1 })
	if err := errors.Join(err, <-taken); err != nil {
		return h, err
	}
	h.synced = synced.Sub(start)
	var acquired time.Time
	if h.to, acquired, err = f.leaderSince(ctx, start); err != nil {
		return h, err
	}
	h.log = readLeaderStart(h.to.logPath, acquired)
	return h, nil
}

// steady waits until both replicas answer /readyz, then failoverSettle more.
func (f *failover) steady(ctx context.Context) error {
	for _, p := range f.replicas {
		if err := p.waitServing(ctx); err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(failoverSettle):
		return nil
	}
}

// quietTimeout bounds quiet: a leader that keeps writing copies is signalled anyway, and the handover says so.
const quietTimeout = time.Minute

// quiet waits until the leader has worked through what it queued when it took over: its configmapsync queue is
// empty and its copy writes stood still for a second. A new leader reconciles every ConfigMapSync, and a signal
// during that would time its backlog along with the handover. After quietTimeout it gives up and returns what it
// saw instead, for the handover's note ("" when the leader went quiet).
func (f *failover) quiet(ctx context.Context, leader *operatorProcess) string {
	waitCtx, cancel := context.WithTimeout(ctx, quietTimeout)
	defer cancel()
	isQueue := func(l map[string]string) bool { return l["name"] == failoverController }
	first, last, depth := -1.0, -1.0, 0.0
	err := poll(waitCtx, time.Second, func() (bool, error) {
		m, err := scrapeOperator(waitCtx, leader.metricsAddr)
		if err != nil {
			return false, nil // Being restarted, or not serving metrics yet.
		}
		writes := m.sum("configmapsync_copy_writes_total", nil)
		depth = m.sum("workqueue_depth", isQueue)
		settled := depth == 0 && writes == last
		if first < 0 {
			first = writes
		}
		last = writes
		return settled, nil
	})
	if err == nil || ctx.Err() != nil {
		return ""
	}
	msg := fmt.Sprintf("the leader was still busy when signalled: %.0f copy writes in the last %s, %.0f queued", last-first, quietTimeout, depth)
	logf("failover: %s", msg)
	return msg
}

// newHolder polls the Lease until it names a holder other than former (and not nobody: a released Lease has
// none) and returns when it first did.
func (f *failover) newHolder(ctx context.Context, former string, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var at time.Time
	err := poll(ctx, 20*time.Millisecond, func() (bool, error) {
		holder, err := f.b.c.leaseHolder(ctx)
		at = time.Now()
		return holder != "" && holder != former, err
	})
	if err != nil {
		return at, fmt.Errorf("waiting for a new Lease holder: %w", err)
	}
	return at, nil
}

// leader returns the replica that holds the Lease, and the holder's identity.
func (f *failover) leader(ctx context.Context) (*operatorProcess, string, error) {
	p, _, err := f.leaderSince(ctx, time.Time{})
	if err != nil {
		return nil, "", err
	}
	holder, err := f.b.c.leaseHolder(ctx)
	return p, holder, err
}

// leaderSince returns the replica that holds the Lease, having acquired it after since, and when its log says it
// did. The Lease names its holder "<hostname>_<uuid>", a uuid per process, which no process prints; but the holder
// writes spec.acquireTime from the same clock just before it logs msgAcquired, so the holder is the replica whose
// last msgAcquired line follows the Lease's acquireTime closely. The line may lag the Lease a little: it polls.
func (f *failover) leaderSince(ctx context.Context, since time.Time) (*operatorProcess, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var found *operatorProcess
	var at time.Time
	var seen string
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		found = nil
		lease, err := f.b.c.clientset.CoordinationV1().Leases(leaseNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" || lease.Spec.AcquireTime == nil ||
			lease.Spec.AcquireTime.Time.Before(since) {
			return false, nil
		}
		acquiredAt := lease.Spec.AcquireTime.Time
		var lines []string
		for _, p := range f.replicas {
			last, ok := lastAcquired(p.logPath)
			lines = append(lines, fmt.Sprintf("%s %s", p.name, last.Format(time.RFC3339Nano)))
			if ok && !last.Before(acquiredAt.Add(-50*time.Millisecond)) && last.Before(acquiredAt.Add(5*time.Second)) {
				found, at = p, last
			}
		}
		seen = fmt.Sprintf("acquireTime %s, last %q lines: %s", acquiredAt.Format(time.RFC3339Nano), msgAcquired, strings.Join(lines, ", "))
		return found != nil, nil
	})
	if err != nil {
		return nil, at, fmt.Errorf("finding which replica holds the Lease (%s): %w", seen, err)
	}
	return found, at, nil
}

// signalName names the signals the scenario sends, for logs and values.
func signalName(sig syscall.Signal) string {
	if sig == syscall.SIGKILL {
		return "kill"
	}
	return "term"
}

// figures turns the handovers into the scenario's figures: p50 and max of kill-to-copy against the lease
// duration + 2 s, and the max of SIGTERM-to-copy against 2 s, each with every handover in its note.
func (f *failover) figures(kills, graceful []handover) []figure {
	limit := (f.lease.duration + 2*time.Second).Seconds()
	var out []figure
	if len(kills) > 0 {
		synced, taken := durations(kills, func(h handover) time.Duration { return h.synced }),
			durations(kills, func(h handover) time.Duration { return h.leaseTaken })
		note := fmt.Sprintf("%s; SIGKILL to a new Lease holder p50 %.2f s, max %.2f s; %s; each kill: %s", f.lease,
			percentile(taken, 50).Seconds(), percentile(taken, 100).Seconds(), summary(kills), describe(kills))
		for _, p := range []float64{50, 100} {
			name := fmt.Sprintf("p%g", p)
			if p == 100 {
				name = "max"
			}
			fig := bounded("failover", fmt.Sprintf("%s, leader SIGKILL to its copy holding a change made right after (%d kills)", name, len(kills)),
				percentile(synced, p).Seconds(), "s", limit)
			fig.Note = note
			out = append(out, fig)
		}
	}
	if len(graceful) > 0 {
		synced := durations(graceful, func(h handover) time.Duration { return h.synced })
		fig := bounded("failover", fmt.Sprintf("max, leader SIGTERM to its copy holding a change made right after (%d handovers)", len(graceful)),
			percentile(synced, 100).Seconds(), "s", 2)
		fig.Note = fmt.Sprintf("%s; the leader releases the Lease on SIGTERM; %s; each handover: %s", f.lease,
			summary(graceful), describe(graceful))
		out = append(out, fig)
	}
	return out
}

// durations picks one duration of each handover.
func durations(hs []handover, get func(handover) time.Duration) []time.Duration {
	out := make([]time.Duration, len(hs))
	for i, h := range hs {
		out[i] = get(h)
	}
	return out
}

// count is how many handovers satisfy cond.
func count(hs []handover, cond func(handover) bool) int {
	n := 0
	for _, h := range hs {
		if cond(h) {
			n++
		}
	}
	return n
}

// summary says, for a note, how many handovers went to the signalled replica's new process rather than the
// follower, and how many signals found the leader still busy.
func summary(hs []handover) string {
	return fmt.Sprintf("%d of %d taken over by the restarted process rather than the follower; %d of %d signalled while "+
		"the leader was still busy after %s", count(hs, handover.restarted), len(hs),
		count(hs, func(h handover) bool { return h.busy != "" }), len(hs), quietTimeout)
}

// describe lists the handovers for a note.
func describe(hs []handover) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = fmt.Sprintf("%d: %s", i+1, h)
	}
	return strings.Join(parts, "; ")
}

// leaderStart is what a new leader's log says about its start, relative to its msgAcquired line.
type leaderStart struct {
	// warm: the process started its controller's sources before it led (EnableWarmup).
	warm bool
	// workers, firstCopy and copy are the times from msgAcquired to the controller's msgStartWorkers line (its
	// sources synced), to its first msgSyncedCopy line and to the measured ConfigMapSync's; negative when the log
	// has none.
	workers, firstCopy, copy time.Duration
	// copiesBefore is how many copies it wrote before the measured one: the new leader reconciles every
	// ConfigMapSync, and writes what changed while nobody led.
	copiesBefore int
}

// String prints the log's story for a note.
func (s leaderStart) String() string {
	at := func(d time.Duration) string {
		if d < 0 {
			return "none"
		}
		return fmt.Sprintf("+%d ms", d.Milliseconds())
	}
	warm := "cold: its sources started only once it led"
	if s.warm {
		warm = "warm: its sources started before it led"
	}
	return fmt.Sprintf("after acquiring: workers %s, first copy written %s, the measured one %s after %d others; %s",
		at(s.workers), at(s.firstCopy), at(s.copy), s.copiesBefore, warm)
}

// logEntry is one JSON line of the operator's log, the fields the bench reads.
type logEntry struct {
	at         time.Time
	Msg        string `json:"msg"`
	Controller string `json:"controller"`
	TS         string `json:"ts"`
	// Object is the ConfigMapSync a reconcile's lines are about.
	Object struct{ Namespace, Name string } `json:"ConfigMapSync"`
}

// readLog reads the operator's JSON log lines; other lines are skipped.
func readLog(path string) []logEntry {
	file, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer func() { _ = file.Close() }()
	var out []logEntry
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.at, err = time.Parse(time.RFC3339Nano, e.TS); err != nil {
			continue
		}
		out = append(out, e)
	}
	return out
}

// lastAcquired returns the time of the log's last msgAcquired line.
func lastAcquired(path string) (time.Time, bool) {
	entries := readLog(path)
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Msg == msgAcquired {
			return entries[i].at, true
		}
	}
	return time.Time{}, false
}

// readLeaderStart reads, in the log of the process that logged msgAcquired at acquired, whether its controller's
// sources started before that (since the process's msgStartManager line), and how long after it the workers
// started and the first copy was written.
func readLeaderStart(path string, acquired time.Time) leaderStart {
	s := leaderStart{workers: -1, firstCopy: -1, copy: -1}
	for _, e := range readLog(path) {
		switch {
		case e.Msg == msgStartManager && !e.at.After(acquired):
			s.warm = false // a later process start: what came before belonged to an earlier process
		case e.Msg == msgStartSource && e.Controller == failoverController && e.at.Before(acquired):
			s.warm = true
		case e.Msg == msgStartWorkers && e.Controller == failoverController && !e.at.Before(acquired) && s.workers < 0:
			s.workers = e.at.Sub(acquired)
		case e.Msg == msgSyncedCopy && !e.at.Before(acquired) && s.copy < 0:
			if s.firstCopy < 0 {
				s.firstCopy = e.at.Sub(acquired)
			}
			if e.Object.Namespace == failoverNamespace && e.Object.Name == "failover" {
				s.copy = e.at.Sub(acquired)
			} else {
				s.copiesBefore++
			}
		}
	}
	return s
}
