package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sample is one Prometheus series: its labels and value.
type sample struct {
	labels map[string]string
	value  float64
}

// metricSet is a scrape of a Prometheus text endpoint, by metric name.
type metricSet map[string][]sample

// sum adds the values of every series of name whose labels satisfy match (nil matches all).
func (m metricSet) sum(name string, match func(labels map[string]string) bool) float64 {
	var total float64
	for _, s := range m[name] {
		if match == nil || match(s.labels) {
			total += s.value
		}
	}
	return total
}

// sumBy adds the values of the series of name that match, grouped by the value of label.
func (m metricSet) sumBy(name, label string, match func(labels map[string]string) bool) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m[name] {
		if match == nil || match(s.labels) {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

// scrapeOperator reads the operator's /metrics (plain HTTP on loopback).
func scrapeOperator(ctx context.Context, addr string) (metricSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping the operator's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping the operator's metrics: HTTP %d", resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// scrapeAPIServer reads kube-apiserver's /metrics with the admin client.
func scrapeAPIServer(ctx context.Context, c *cluster) (metricSet, error) {
	raw, err := c.clientset.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping the API server's metrics: %w", err)
	}
	return parseMetrics(bytes.NewReader(raw))
}

// parseMetrics reads the Prometheus text format: `name{k="v",...} value [timestamp]` lines; comments are skipped.
func parseMetrics(r io.Reader) (metricSet, error) {
	out := metricSet{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		labels := map[string]string{}
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			var err error
			if labels, rest, err = parseLabels(line[i+1:]); err != nil {
				return nil, fmt.Errorf("metric line %q: %w", line, err)
			}
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[name] = append(out[name], sample{labels: labels, value: v})
	}
	return out, sc.Err()
}

// parseLabels reads `k="v",...}` and returns the labels and what follows the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return labels, s[1:], nil
		}
		eq := strings.Index(s, `="`)
		if eq < 0 {
			return nil, "", fmt.Errorf("bad labels")
		}
		key := s[:eq]
		s = s[eq+2:]
		var val strings.Builder
		i := 0
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			val.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated label value")
		}
		labels[key] = val.String()
		s = s[i+1:]
	}
}

// rssBytes reads a process's resident set size from /proc (VmRSS).
func rssBytes(pid int) (float64, error) { return procStatusBytes(pid, "VmRSS") }

// peakRSS reads a process's peak resident set size (VmHWM): the largest RSS since it started or since
// resetPeakRSS.
func peakRSS(pid int) (float64, error) { return procStatusBytes(pid, "VmHWM") }

// resetPeakRSS sets a process's VmHWM back to its current RSS (writing 5 to clear_refs, Linux >= 4.0), so that
// peakRSS then tells the peak of what follows, not of everything since the process started.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// procStatusBytes reads a "Field:   N kB" line of /proc/<pid>/status, in bytes.
func procStatusBytes(pid int, field string) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// rssWindow is how long settledRSS samples.
const rssWindow = 5 * time.Second

// settledRSS waits settle (so the operator has handled the last events and the Go runtime has collected and
// returned what it no longer uses), then samples RSS every 500 ms for rssWindow and returns the largest sample:
// growth is judged on the peak a memory limit would have to allow, not on a lucky moment after a GC.
func settledRSS(ctx context.Context, pid int, settle time.Duration) (float64, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(settle):
	}
	var peak float64
	for end := time.Now().Add(rssWindow); time.Now().Before(end); {
		rss, err := rssBytes(pid)
		if err != nil {
			return 0, err
		}
		peak = max(peak, rss)
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return peak, nil
}

// isWrite reports whether an HTTP method (rest_client_requests_total's method label) changes state.
func isWrite(labels map[string]string) bool {
	switch labels["method"] {
	case "POST", "PUT", "PATCH", "DELETE":
		return true
	}
	return false
}

// isAPIWrite reports whether an apiserver_request_total series counts writes (its verb label).
func isAPIWrite(labels map[string]string) bool {
	switch labels["verb"] {
	case "POST", "PUT", "PATCH", "DELETE", "APPLY", "DELETECOLLECTION", "CREATE", "UPDATE":
		return true
	}
	return false
}

// requestsPerObject describes what the API server served between two scrapes, per object of n: its requests by
// verb and resource (watches left out), and its calls to admission webhooks. The churn scenario uses it to say
// where the time above the direct baseline goes.
func requestsPerObject(before, after metricSet, n int) string {
	counts := func(m metricSet) map[string]float64 {
		out := map[string]float64{}
		for _, s := range m["apiserver_request_total"] {
			if s.labels["verb"] == "WATCH" {
				continue
			}
			what := s.labels["verb"] + " " + s.labels["resource"]
			if sub := s.labels["subresource"]; sub != "" {
				what += "/" + sub
			}
			out[what] += s.value
		}
		for name, v := range m.sumBy("apiserver_admission_webhook_admission_duration_seconds_count", "name", nil) {
			out["webhook "+name] += v
		}
		return out
	}
	was, now := counts(before), counts(after)
	var parts []string
	total := 0.0
	for _, what := range slices.Sorted(maps.Keys(now)) {
		per := (now[what] - was[what]) / float64(n)
		if per < 0.05 {
			continue
		}
		if !strings.HasPrefix(what, "webhook ") {
			total += per
		}
		parts = append(parts, fmt.Sprintf("%s %.2f", what, per))
	}
	return fmt.Sprintf("%.2f API requests per object (%s)", total, strings.Join(parts, ", "))
}

// cpuTimes is the CPU time (user + system) used so far by the processes the bench runs, by name: "etcd",
// "kube-apiserver" (this process's children, started by envtest), and "operator" (the leader).
type cpuTimes map[string]time.Duration

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every Linux the bench runs on.
const clockTicks = 100

// processCPU reads the CPU time of the control plane's processes and of the operator process pid.
func processCPU(operator int) cpuTimes {
	out := cpuTimes{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, parent, used, err := procStat(pid)
		if err != nil {
			continue
		}
		switch {
		case pid == operator:
			out["operator"] += used
		case parent == os.Getpid() && (name == "etcd" || name == "kube-apiserver"):
			out[name] += used
		}
	}
	return out
}

// procStat reads a process's name, parent and CPU time from /proc/<pid>/stat.
func procStat(pid int) (string, int, time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, err
	}
	s := string(raw)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return "", 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
	f := strings.Fields(s[end+1:])
	if len(f) < 13 {
		return "", 0, 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	parent, _ := strconv.Atoi(f[1])
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return s[open+1 : end], parent, time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuPerObject describes the CPU time each process used between two readings, per object of n.
func cpuPerObject(before, after cpuTimes, n int) string {
	names := []string{"kube-apiserver", "etcd", "operator"}
	parts := make([]string, 0, len(names))
	for _, name := range names {
		per := (after[name] - before[name]) / time.Duration(n)
		parts = append(parts, fmt.Sprintf("%s %.1f ms", name, float64(per)/float64(time.Millisecond)))
	}
	return "CPU per object: " + strings.Join(parts, ", ")
}
