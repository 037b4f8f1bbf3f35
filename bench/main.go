// Command bench measures the ConfigMapSync Operator on a local control plane: it starts etcd and kube-apiserver
// (envtest, from KUBEBUILDER_ASSETS) with the CRDs and webhooks installed, runs the real operator binary as a child
// process with leader election and its production flags, and times fan-out, updates, update latency, churn,
// memory and no-op resyncs, each next to the same writes made directly with client-go in the same run. It writes
// bench/results/latest.{json,md,png}. Missed targets are reported, not failures; errors exit non-zero.
//
//	go run ./bench                       # what `make bench` runs (after `make build`)
//	BENCH_CHURN=1000 go run ./bench      # a quicker run while developing
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// config is what the command line and the BENCH_* environment variables choose.
type config struct {
	manager, crds, webhooks, results string
	operatorArgs                     []string
	scenarios                        []string
	fanOut, churn, latencyRounds     int
	secretSteps                      []int
	settle, noopWindow               time.Duration
}

// defaultChurn is the figure: 10,000 ConfigMapSyncs created and deleted. The whole run takes about 12
// minutes on 2 cores; BENCH_CHURN=1000 gives a quicker one while developing.
const defaultChurn = 10000

// allScenarios run in this order: memory first, on a freshly started operator whose RSS has nothing else in it;
// then the no-op resync while the cluster is otherwise quiet; then the write-heavy ones.
var allScenarios = []string{"memory", "noop", "fanout", "latency", "churn"}

// timeout bounds a wait for n objects generously: a slow run must still finish and be reported, a stuck one fail.
func (c config) timeout(n int) time.Duration {
	return 3*time.Minute + time.Duration(n)*150*time.Millisecond
}

func parseConfig() config {
	var c config
	var operatorArgs, scenarios string
	flag.StringVar(&c.manager, "manager", "bin/manager", "The operator binary (`make build` builds it).")
	flag.StringVar(&c.crds, "crds", "config/crd/bases", "Folder with the CRDs.")
	flag.StringVar(&c.webhooks, "webhooks", "config/webhook/manifests.yaml", "The webhook configurations.")
	flag.StringVar(&c.results, "results", "bench/results", "Folder for latest.json, latest.md and latest.png.")
	flag.StringVar(&operatorArgs, "operator-args", os.Getenv("BENCH_OPERATOR_ARGS"),
		"Extra operator flags, space-separated, after the production ones (env BENCH_OPERATOR_ARGS).")
	flag.StringVar(&scenarios, "scenarios", envOr("BENCH_SCENARIOS", strings.Join(allScenarios, ",")),
		"Comma-separated scenarios to run (env BENCH_SCENARIOS).")
	flag.IntVar(&c.churn, "churn", envInt("BENCH_CHURN", defaultChurn), "ConfigMapSyncs created and deleted by the churn scenario (env BENCH_CHURN).")
	flag.IntVar(&c.fanOut, "fan-out", 500, "Destination namespaces of the fan-out and update scenarios.")
	flag.IntVar(&c.latencyRounds, "latency-rounds", 100, "Sequential source changes timed by the latency scenario.")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "Wait before sampling the operator's RSS.")
	flag.DurationVar(&c.noopWindow, "noop-window", 25*time.Second, "How long no-op resyncs are watched (>= 2 periods of 10 s).")
	flag.Parse()
	c.operatorArgs = strings.Fields(operatorArgs)
	c.scenarios = strings.Split(scenarios, ",")
	c.secretSteps = []int{2000, 20000}
	return c
}

func main() {
	start := time.Now()
	cfg := parseConfig()
	// The bench's own controller-runtime parts (envtest, its watches) log only errors.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg, start)
	stop()
	if err != nil {
		logf("FAILED after %s: %v", time.Since(start).Round(time.Second), err)
		os.Exit(1)
	}
	logf("done in %s", time.Since(start).Round(time.Second))
}

// run starts the control plane and the operator, runs the scenarios and writes the results. Everything it starts
// is stopped on the way out, also on errors and on Ctrl-C.
func run(ctx context.Context, cfg config, start time.Time) (err error) {
	for _, s := range cfg.scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %v)", s, allScenarios)
		}
	}
	if _, err := os.Stat(cfg.manager); err != nil {
		return fmt.Errorf("the operator binary: %w (run `make build`)", err)
	}
	logf("starting etcd and kube-apiserver (KUBEBUILDER_ASSETS=%s)", os.Getenv("KUBEBUILDER_ASSETS"))
	c, err := startCluster(cfg.crds, cfg.webhooks)
	if err != nil {
		return err
	}
	defer func() {
		logf("stopping the control plane")
		c.stop()
	}()

	op, err := startOperator(c, cfg.manager, cfg.operatorArgs)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			op.tailLog(40)
		}
		logf("stopping the operator")
		op.stop()
	}()
	if err := op.waitReady(ctx, c); err != nil {
		return err
	}
	logf("operator ready and leading")

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	w, err := startWatcher(watchCtx, c)
	if err != nil {
		return err
	}
	b := &bench{c: c, op: op, w: w, cfg: cfg}
	scenarios := map[string]func(context.Context) error{
		"memory": b.memory, "noop": b.noopResync, "fanout": b.fanOutAndUpdate, "latency": b.latency, "churn": b.churn,
	}
	for _, name := range allScenarios {
		if !slices.Contains(cfg.scenarios, name) {
			continue
		}
		logf("== scenario %s", name)
		took, err := timed(func() error { return scenarios[name](ctx) })
		if err != nil {
			return fmt.Errorf("scenario %s: %w", name, err)
		}
		logf("== scenario %s took %s", name, took.Round(time.Second))
	}

	b.add(operatorRestarts(op.restartLog()))
	r := report{
		Machine: newMachine(c.serverVersion()),
		Settings: map[string]any{
			"operatorArgs": strings.Join(op.args, " "),
			"churn":        cfg.churn, "fanOut": cfg.fanOut, "latencyRounds": cfg.latencyRounds,
			"secretSteps": cfg.secretSteps, "clientParallelism": workers, "scenarios": cfg.scenarios,
		},
		Figures:      b.figures,
		TotalSeconds: time.Since(start).Seconds(),
	}
	if err := writeResults(cfg.results, r); err != nil {
		return fmt.Errorf("writing the results: %w", err)
	}
	logf("results written to %s/latest.{json,md,png}", cfg.results)
	return ctx.Err()
}

// logf writes a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// envOr returns the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// envInt returns the integer in the environment variable key, or def when it is unset or not a number.
func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// sortedKeys returns the keys of m in order, for stable output.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
