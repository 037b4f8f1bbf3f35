//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// replicas is how many operator processes run; one leads.
	replicas = 3
	// faultRate is the share of the operator's requests that get a fault while the chaos runs.
	faultRate = 0.10
	// defaultDuration is how long the workload and the faults run (CHAOS_DURATION overrides it).
	defaultDuration = 75 * time.Second
	// convergeWithin bounds the time the operator gets, once the faults stop, to reach the end state. It is a
	// deadline for failure, not a performance assertion.
	convergeWithin = 60 * time.Second
)

// TestChaos runs the workload against three operator replicas while the proxy injects faults, the leader is
// killed every few seconds and the API server restarts once; then it stops the faults and checks the invariants.
func TestChaos(t *testing.T) {
	began := time.Now()
	seed, duration := chaosSeed(t), chaosDuration(t)
	t.Logf("seed %d (rerun with CHAOS_SEED=%d); chaos for %s", seed, seed, duration)

	p, err := newProxy(env.Config, seed, replicas, 0)
	require.NoError(t, err)
	t.Cleanup(p.close)
	f, err := startFleet(p)
	require.NoError(t, err)
	t.Cleanup(f.stop)
	fwd, err := startWebhookForwarder(f)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fwd.Close() })

	w := newWorkload(seed)
	protected, err := w.setup()
	require.NoError(t, err, "setting up the workload")
	c := &checker{}
	for _, obj := range protected {
		snap, err := snapshotOf(t.Context(), obj)
		require.NoError(t, err)
		c.protected = append(c.protected, snap)
	}

	p.setRate(faultRate)
	r := runChaos(t, f, w, seed, duration)
	p.setRate(0)
	c.deleted = w.deleted

	took, failures := c.converge(t.Context(), convergeWithin)
	for _, msg := range failures {
		t.Errorf("did not converge within %s: %s", convergeWithin, msg)
	}
	for _, msg := range c.checkProtected(t.Context(), protected) {
		t.Error(msg)
	}
	for _, msg := range c.checkWrites(p.writes()) {
		t.Error(msg)
	}
	r.converged, r.total = took, time.Since(began)
	t.Log(r.report(p, f, w))
}

// chaosRun is what happened during the chaos, for the report.
type chaosRun struct {
	seed                      uint64
	duration                  time.Duration
	leaderKills               int
	apiServerDown             time.Duration
	converged, total          time.Duration
	apiServerRestartFailure   error
	apiServerPortBefore, port string
}

// runChaos runs the workload for duration while the leader is killed every 5-9 seconds and the API server
// restarts once, 40% into the run.
func runChaos(t *testing.T, f *fleet, w *workload, seed uint64, duration time.Duration) *chaosRun {
	t.Helper()
	r := &chaosRun{seed: seed, duration: duration}
	ctx, cancel := context.WithTimeout(t.Context(), duration)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, 3))
	var rngMu sync.Mutex
	every := func() time.Duration {
		rngMu.Lock()
		defer rngMu.Unlock()
		return time.Duration(5000+rng.IntN(4000)) * time.Millisecond
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.leaderKills = f.killLeaders(ctx, every) })
	wg.Go(func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(duration * 4 / 10):
		}
		r.apiServerPortBefore, r.port, r.apiServerDown, r.apiServerRestartFailure = restartAPIServer()
	})
	w.run(ctx)
	wg.Wait()
	require.NoError(t, r.apiServerRestartFailure, "restarting the API server")
	require.Equal(t, r.apiServerPortBefore, r.port, "the API server must come back on its port, or no client finds it")
	return r
}

// restartAPIServer stops kube-apiserver and starts it again on the same port (envtest keeps SecurePort, and the
// certificate folder is ours, so the serving CA and client certificates stay valid). etcd keeps running.
func restartAPIServer() (portBefore, portAfter string, down time.Duration, err error) {
	s := env.ControlPlane.GetAPIServer()
	portBefore = s.Port
	stopped := time.Now()
	if err := s.Stop(); err != nil {
		return portBefore, "", 0, fmt.Errorf("stopping: %w", err)
	}
	time.Sleep(2 * time.Second) // Long enough for every client to see refused connections, not only a blip.
	if err := s.Start(); err != nil {
		return portBefore, "", 0, fmt.Errorf("starting: %w", err)
	}
	return portBefore, s.Port, time.Since(stopped), nil
}

// report prints what was injected and what the workload did.
func (r *chaosRun) report(p *proxy, f *fleet, w *workload) string {
	faults, total := p.faultCounts()
	starts, kills, exits := f.counts()
	writes := p.writes()
	perReplica := make([]int, replicas)
	copyWrites := 0
	for _, m := range writes {
		if m.resource == "configmaps" || m.resource == "secrets" {
			copyWrites++
			perReplica[m.replica]++
		}
	}
	live := 0
	if s, err := readState(context.Background()); err == nil {
		live = len(s.syncs)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "chaos report (seed %d)\n", r.seed)
	fmt.Fprintf(&b, "  time: chaos %s, convergence after the faults stopped %s, whole test %s\n",
		r.duration, r.converged.Round(time.Millisecond), r.total.Round(time.Second))
	fmt.Fprintf(&b, "  proxy faults (%.0f%% of requests): %d injected: %s\n", faultRate*100, total, faults)
	fmt.Fprintf(&b, "  replicas: %d; leader kills (SIGKILL) %d of %d kills; exits the test did not cause (lost lease) %d; processes started %d\n",
		replicas, r.leaderKills, kills, exits, starts)
	fmt.Fprintf(&b, "  API server restarts: 1 (down %s, port %s kept)\n", r.apiServerDown.Round(time.Millisecond), r.port)
	fmt.Fprintf(&b, "  workload: ConfigMapSyncs created %d (v1beta1 %d, adopting %d), updated %d, deleted %d; source updates %d; namespace label moves %d; operations given up %d\n",
		w.stats.created, w.stats.createdBeta, w.stats.leftBehind, w.stats.updated, w.stats.deleted, w.stats.sourceUpdates, w.stats.labelChanges, w.stats.failed)
	fmt.Fprintf(&b, "  end: %d live ConfigMapSyncs; operator writes that reached the API server %d, to ConfigMaps/Secrets %d (by replica slot %v)\n",
		live, len(writes), copyWrites, perReplica)
	return b.String()
}

// chaosSeed returns CHAOS_SEED, or a new seed. Faults, kill times and the workload derive from it; the
// interleaving of processes does not, so a seed reproduces the kind of run, not the exact one.
func chaosSeed(t *testing.T) uint64 {
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// chaosDuration returns CHAOS_DURATION (a Go duration), or the default.
func chaosDuration(t *testing.T) time.Duration {
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err, "CHAOS_DURATION")
		return d
	}
	return defaultDuration
}
