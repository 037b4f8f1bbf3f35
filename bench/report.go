package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// figure is one measured number, next to the direct baseline measured in the same run when there is one.
type figure struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Baseline is the same work done directly with client-go (nil when the figure has none).
	Baseline     *float64 `json:"baseline,omitempty"`
	BaselineWhat string   `json:"baselineWhat,omitempty"`
	// Ratio is Value / Baseline.
	Ratio *float64 `json:"ratio,omitempty"`
	// Target says what the figure is designed for; Met is nil for figures reported without a target.
	Target string `json:"target"`
	Met    *bool  `json:"met,omitempty"`
	Note   string `json:"note,omitempty"`
}

// machine describes where the figures were measured.
type machine struct {
	CPUs              int    `json:"cpus"`
	CPUModel          string `json:"cpuModel"`
	MemoryGiB         int    `json:"memoryGiB"`
	GoVersion         string `json:"goVersion"`
	KubernetesVersion string `json:"kubernetesVersion"`
	OS                string `json:"os"`
	Date              string `json:"date"`
}

// report is bench/results/latest.json.
type report struct {
	Machine      machine        `json:"machine"`
	Settings     map[string]any `json:"settings"`
	Figures      []figure       `json:"figures"`
	Curves       *curves        `json:"curves,omitempty"`
	TotalSeconds float64        `json:"totalSeconds"`
	// Failed is the error that stopped the run early; the figures are those measured until then.
	Failed string `json:"failed,omitempty"`
}

// newMachine collects the facts of this machine.
func newMachine(kubernetesVersion string) machine {
	return machine{
		CPUs:              runtime.NumCPU(),
		CPUModel:          procField("/proc/cpuinfo", "model name"),
		MemoryGiB:         memTotalGiB(),
		GoVersion:         runtime.Version(),
		KubernetesVersion: kubernetesVersion,
		OS:                runtime.GOOS + "/" + runtime.GOARCH,
		Date:              time.Now().UTC().Format(time.RFC3339),
	}
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// memTotalGiB is the machine's memory, rounded to GiB.
func memTotalGiB() int {
	var kb float64
	_, _ = fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%f", &kb)
	return int(math.Round(kb / (1 << 20)))
}

// compared returns a figure with its baseline and ratio; met is ratio <= maxRatio, or nil when maxRatio is 0
// (reported without a target).
func compared(scenario, metric string, value, baseline float64, unit, baselineWhat string, maxRatio float64) figure {
	f := figure{Scenario: scenario, Metric: metric, Value: value, Unit: unit, Baseline: &baseline, BaselineWhat: baselineWhat,
		Target: "report only"}
	if baseline > 0 {
		r := value / baseline
		f.Ratio = &r
		if maxRatio > 0 {
			met := r <= maxRatio
			f.Met = &met
		}
	}
	if maxRatio > 0 {
		f.Target = fmt.Sprintf("<= %gx baseline", maxRatio)
	}
	return f
}

// bounded returns a figure without baseline whose target is value < limit (or == 0 for limit 0).
func bounded(scenario, metric string, value float64, unit string, limit float64) figure {
	f := figure{Scenario: scenario, Metric: metric, Value: value, Unit: unit}
	var met bool
	if limit == 0 {
		met, f.Target = value == 0, "0"
	} else {
		met, f.Target = value < limit, fmt.Sprintf("< %g %s", limit, unit)
	}
	f.Met = &met
	return f
}

// atMost returns a figure without baseline whose target is value <= limit.
func atMost(scenario, metric string, value float64, unit string, limit float64) figure {
	met := value <= limit
	return figure{Scenario: scenario, Metric: metric, Value: value, Unit: unit,
		Target: "<= " + strings.TrimSpace(formatValue(limit, unit)), Met: &met}
}

// writeResults writes latest.json, latest.md and latest.png into dir, and curves.png when there are curves.
func writeResults(dir string, r report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(raw, '\n'), 0o644); err != nil { //nolint:gosec // A report, meant to be read.
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(markdown(r)), 0o644); err != nil { //nolint:gosec // A report.
		return err
	}
	if err := writeChart(filepath.Join(dir, "latest.png"), r.Figures); err != nil {
		return err
	}
	if r.Curves.empty() {
		return nil
	}
	return writeLineCharts(filepath.Join(dir, "curves.png"), r.Curves.panels())
}

// markdown renders the report as a table with the machine facts and notes below it.
func markdown(r report) string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "# ConfigMapSync Operator benchmark\n\n")
	fmt.Fprintf(&b, "%s; %d CPUs (%s), %d GiB; %s; Kubernetes %s (envtest: etcd + kube-apiserver on loopback); "+
		"operator `bin/manager` as a child process with leader election. Total run: %.0f s.\n\n",
		m.Date, m.CPUs, m.CPUModel, m.MemoryGiB, m.GoVersion, m.KubernetesVersion, r.TotalSeconds)
	fmt.Fprintf(&b, "Baselines are the same writes made directly with client-go (%d in parallel, no client-side rate limit) "+
		"in the same run. Targets are reported, never asserted.\n\n", workers)
	if r.Failed != "" {
		fmt.Fprintf(&b, "**The run stopped early**: %s. The figures below are those measured until then.\n\n", r.Failed)
	}
	b.WriteString("| scenario | operator | direct baseline | ratio | target | met |\n")
	b.WriteString("|---|---:|---:|---:|---|---|\n")
	for _, f := range r.Figures {
		base, ratio, met := "—", "—", "—"
		if f.Baseline != nil {
			base = formatValue(*f.Baseline, f.Unit)
			if f.BaselineWhat != "" {
				base += " (" + f.BaselineWhat + ")"
			}
		}
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.2fx", *f.Ratio)
		}
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
		}
		fmt.Fprintf(&b, "| %s: %s | %s | %s | %s | %s | %s |\n", f.Scenario, f.Metric, formatValue(f.Value, f.Unit),
			base, ratio, f.Target, met)
	}
	b.WriteString("\n## Notes\n\n")
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(&b, "- **%s: %s**: %s\n", f.Scenario, f.Metric, f.Note)
		}
	}
	if !r.Curves.empty() {
		b.WriteString(r.Curves.markdown())
	}
	b.WriteString("\n## Settings\n\n")
	for _, k := range sortedKeys(r.Settings) {
		fmt.Fprintf(&b, "- %s: `%v`\n", k, r.Settings[k])
	}
	b.WriteString("\n## Chart (latest.png)\n\n" + chartLegend + "\n")
	return b.String()
}

// formatValue prints a value with a precision that suits its unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmt.Sprintf("%.2f s", v)
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "MiB":
		return fmt.Sprintf("%.1f MiB", v)
	case "/s":
		return fmt.Sprintf("%.0f /s", v)
	default:
		return fmt.Sprintf("%g %s", v, unit)
	}
}
