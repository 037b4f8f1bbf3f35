// Command bench measures the ConfigMapSync Operator on a local control plane: it starts etcd and kube-apiserver
// (envtest, from KUBEBUILDER_ASSETS) with the CRDs and webhooks installed, runs the real operator binary as a child
// process with leader election and its production flags, and times fan-out (also against the number of namespaces
// and the size of what is copied), updates, update latency, churn (against the number of ConfigMapSyncs), memory
// and no-op resyncs, each next to the same writes made directly with client-go in the same run, and the failover
// to a second replica when the leader is killed or stopped. It writes bench/results/latest.{json,md,png} and
// curves.png. Missed targets are reported, not failures; errors exit non-zero. It is a module of its own
// (bench/go.mod): `make bench` builds it into bin/run/bench (go -C bench build -o ../bin/run/bench .) and runs it
// from the checkout's root, where its default paths point:
//
//	bin/run/bench                        # what `make bench` runs (after `make build`)
//	BENCH_100K=1 bin/run/bench           # the same, and 100,000 copies (copies-100k, some 10-20 minutes more)
//	BENCH_SCENARIOS=labelled-memory,copies-100k bin/run/bench   # only the memory scenarios of issues 27 and 32
//	BENCH_CHURN=1000 BENCH_CURVE_NAMESPACES=100,500 BENCH_CURVE_SIZES=1,100 BENCH_CURVE_SIZE_NAMESPACES=500 \
//	  bin/run/bench                      # a quicker run while developing
package main

import (
	"context"
	"errors"
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
	fanOut, latencyRounds            int
	// failoverKills is how many times the failover scenario kills the leader.
	failoverKills int
	// churnPoints are the numbers of ConfigMapSyncs the churn scenario creates and deletes, one round each.
	churnPoints []int
	secretSteps []int
	// curveNamespaces are the fan-outs of the fanout-size scenario's namespace curve (at curveSize bytes);
	// curveSizes (bytes) its size curve, at curveSizeNamespaces namespaces.
	curveNamespaces     []int
	curveSizes          []int
	curveSizeNamespaces int
	settle, noopWindow  time.Duration
	// rbac and managerManifest are config/rbac and config/manager/manager.yaml: the pod-like operator's rights and
	// memory limit (podoperator.go); memoryLimit, in bytes, overrides the latter's.
	rbac, managerManifest string
	memoryLimit           int
}

// defaultChurnPoints end at the figure, 10,000 ConfigMapSyncs created and deleted; the smaller rounds show
// how churn time grows with N. BENCH_CHURN=1000 runs only 1000, for a quicker run while developing.
const defaultChurnPoints = "1000,3000,10000"

// The fanout-size scenario's default curves: one 100 KiB ConfigMap to 100...5000 namespaces, and 1 KiB...1 MiB to
// 1000 namespaces (sizes in KiB).
const (
	defaultCurveNamespaces     = "100,500,1000,2000,5000"
	defaultCurveSizesKiB       = "1,10,100,1024"
	defaultCurveSizeNamespaces = 1000
	curveSize                  = 100 << 10
)

// allScenarios run in this order: memory first, on a freshly started operator whose RSS has nothing else in it;
// then the no-op resync while the cluster is otherwise quiet; then the write-heavy ones and failover; the fan-out
// curves last, as they leave etcd holding gigabytes of history (run before them, churn met "etcdserver: request
// timed out" and lost its Lease, and failover could not read the Lease), and restart the operator before each
// point anyway.
// labelled-memory follows memory (it also starts from a fresh operator, and removes what it created); copies-100k
// comes last, as it leaves 100,000 copies behind, and runs only when asked for (BENCH_100K=1 or by name): it adds
// some 10-20 minutes to the run.
var allScenarios = []string{"memory", "labelled-memory", "noop", "fanout", "latency", "churn", "failover", "fanout-size", "copies-100k"}

// defaultScenarios are what `make bench` runs: all but copies-100k, unless BENCH_100K is set.
func defaultScenarios() []string {
	if envInt("BENCH_100K", 0) > 0 {
		return allScenarios
	}
	return slices.DeleteFunc(slices.Clone(allScenarios), func(s string) bool { return s == "copies-100k" })
}

// timeout bounds a wait for n objects generously: a slow run must still finish and be reported, a stuck one fail.
func (c config) timeout(n int) time.Duration {
	return 3*time.Minute + time.Duration(n)*150*time.Millisecond
}

// parseConfig reads the command line and the BENCH_* environment variables.
func parseConfig() (config, error) {
	var c config
	var operatorArgs, scenarios, churnPoints, curveNamespaces, curveSizes string
	var churn int
	flag.StringVar(&c.manager, "manager", "bin/manager", "The operator binary (`make build` builds it).")
	flag.StringVar(&c.crds, "crds", "config/crd/bases", "Folder with the CRDs.")
	flag.StringVar(&c.webhooks, "webhooks", "config/webhook/manifests.yaml", "The webhook configurations.")
	flag.StringVar(&c.results, "results", "bench/results", "Folder for latest.json, latest.md and latest.png.")
	flag.StringVar(&operatorArgs, "operator-args", os.Getenv("BENCH_OPERATOR_ARGS"),
		"Extra operator flags, space-separated, after the production ones (env BENCH_OPERATOR_ARGS).")
	flag.StringVar(&scenarios, "scenarios", envOr("BENCH_SCENARIOS", strings.Join(defaultScenarios(), ",")),
		"Comma-separated scenarios to run (env BENCH_SCENARIOS; the default adds copies-100k when BENCH_100K=1).")
	flag.StringVar(&c.rbac, "rbac", "config/rbac", "Folder with the operator's RBAC, for the pod-like operator.")
	flag.StringVar(&c.managerManifest, "manager-manifest", "config/manager/manager.yaml",
		"The operator's Deployment, whose memory limit the pod-like operator gets as MEMORY_LIMIT.")
	flag.IntVar(&c.memoryLimit, "memory-limit", envInt("BENCH_MEMORY_LIMIT", 0),
		"MEMORY_LIMIT in bytes of the pod-like operator, instead of the Deployment's limit (env BENCH_MEMORY_LIMIT).")
	flag.IntVar(&churn, "churn", envInt("BENCH_CHURN", 0),
		"Run the churn scenario for only this number of ConfigMapSyncs (env BENCH_CHURN; overrides -churn-points).")
	flag.StringVar(&churnPoints, "churn-points", envOr("BENCH_CHURN_POINTS", defaultChurnPoints),
		"Comma-separated numbers of ConfigMapSyncs created and deleted by the churn scenario (env BENCH_CHURN_POINTS).")
	flag.StringVar(&curveNamespaces, "curve-namespaces", envOr("BENCH_CURVE_NAMESPACES", defaultCurveNamespaces),
		"Comma-separated fan-outs of the fanout-size namespace curve, at 100 KiB (env BENCH_CURVE_NAMESPACES).")
	flag.StringVar(&curveSizes, "curve-sizes", envOr("BENCH_CURVE_SIZES", defaultCurveSizesKiB),
		"Comma-separated ConfigMap sizes in KiB of the fanout-size size curve (env BENCH_CURVE_SIZES).")
	flag.IntVar(&c.curveSizeNamespaces, "curve-size-namespaces", envInt("BENCH_CURVE_SIZE_NAMESPACES", defaultCurveSizeNamespaces),
		"Fan-out of the fanout-size size curve (env BENCH_CURVE_SIZE_NAMESPACES).")
	flag.IntVar(&c.fanOut, "fan-out", 500, "Destination namespaces of the fan-out and update scenarios.")
	flag.IntVar(&c.latencyRounds, "latency-rounds", 100, "Sequential source changes timed by the latency scenario.")
	flag.IntVar(&c.failoverKills, "failover-kills", envInt("BENCH_FAILOVER_KILLS", 10),
		"How many times the failover scenario kills the leader (env BENCH_FAILOVER_KILLS).")
	flag.DurationVar(&c.settle, "settle", 10*time.Second, "Wait before sampling the operator's RSS.")
	flag.DurationVar(&c.noopWindow, "noop-window", 25*time.Second, "How long no-op resyncs are watched (>= 2 periods of 10 s).")
	flag.Parse()
	c.operatorArgs = strings.Fields(operatorArgs)
	c.scenarios = strings.Split(scenarios, ",")
	c.secretSteps = []int{2000, 20000}
	var err error
	if c.churnPoints, err = parseInts("churn points", churnPoints, 1); err != nil {
		return c, err
	}
	if churn > 0 {
		c.churnPoints = []int{churn}
	}
	if c.curveNamespaces, err = parseInts("curve namespaces", curveNamespaces, 1); err != nil {
		return c, err
	}
	c.curveSizes, err = parseInts("curve sizes", curveSizes, 1<<10)
	return c, err
}

// parseInts reads a comma-separated list of positive integers, each multiplied by unit.
func parseInts(what, list string, unit int) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive integer", what, f)
		}
		out = append(out, n*unit)
	}
	return out, nil
}

func main() {
	start := time.Now()
	cfg, err := parseConfig()
	if err != nil {
		logf("%v", err)
		os.Exit(2)
	}
	// The bench's own controller-runtime parts (envtest, its watches) log only errors.
	ctrllog.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, start)
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
	// b.op is the operator the scenarios measure; the memory scenarios replace it (withPodOperator).
	b := &bench{c: c, op: op, cfg: cfg, curves: &curves{NamespacesSizeBytes: curveSize, SizeNamespaces: cfg.curveSizeNamespaces}}
	defer func() {
		if err != nil {
			b.op.tailLog(40)
		}
		logf("stopping the %s", b.op.name)
		b.op.stop()
	}()
	if err := op.waitReady(ctx, c, ""); err != nil {
		return err
	}
	logf("operator ready and leading")

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if b.w, err = startWatcher(watchCtx, c); err != nil {
		return err
	}
	scenarios := map[string]func(context.Context) error{
		"memory": b.memory, "labelled-memory": b.labelledMemory, "noop": b.noopResync, "fanout": b.fanOutAndUpdate,
		"fanout-size": b.fanOutSize, "latency": b.latency, "churn": b.churn, "failover": b.failover,
		"copies-100k": b.copies100k,
	}
	toRun := slices.DeleteFunc(slices.Clone(allScenarios), func(s string) bool { return !slices.Contains(cfg.scenarios, s) })
	// A failed scenario stops the run, but what was measured until then is still written.
	var failed error
	for i, name := range toRun {
		b.lastScenario = i == len(toRun)-1
		logf("== scenario %s", name)
		took, err := timed(func() error { return scenarios[name](ctx) })
		if err != nil {
			failed = fmt.Errorf("scenario %s: %w", name, err)
			break
		}
		logf("== scenario %s took %s", name, took.Round(time.Second))
	}

	b.add(operatorRestarts(append(b.op.UnplannedExits(), b.otherRestarts...)))
	r := report{
		Machine: newMachine(c.serverVersion()),
		Settings: map[string]any{
			"operatorArgs": strings.Join(op.args, " "),
			"churnPoints":  cfg.churnPoints, "fanOut": cfg.fanOut, "latencyRounds": cfg.latencyRounds,
			"secretSteps": cfg.secretSteps, "clientParallelism": workers, "scenarios": cfg.scenarios,
			"curveNamespaces": cfg.curveNamespaces, "curveNamespacesSizeBytes": curveSize,
			"curveSizesBytes": cfg.curveSizes, "curveSizeNamespaces": cfg.curveSizeNamespaces,
			"etcdQuotaBackendBytes": etcdQuotaBackendBytes, "podOperatorMemoryLimit": b.podMemoryLimit,
			"failoverKills": cfg.failoverKills, "failoverHandovers": failoverHandovers, "failoverLoad": failoverLoad,
		},
		Figures:      b.figures,
		Curves:       b.curves,
		TotalSeconds: time.Since(start).Seconds(),
	}
	if failed != nil {
		r.Failed = failed.Error()
	}
	if err := writeResults(cfg.results, r); err != nil {
		return errors.Join(failed, fmt.Errorf("writing the results: %w", err))
	}
	logf("results written to %s/latest.{json,md,png} (and curves.png with curves)", cfg.results)
	if failed != nil {
		return failed
	}
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
