// Package alertrules evaluates the operator's alerting rules (config/prometheus/prometheusrule.yaml) with
// Prometheus's own query engine on recorded series, so a broken expression, a threshold that never trips or an
// alert that fires on a healthy or unscraped install fails CI. It is a module of its own, so the operator's
// go.mod does not carry the Prometheus server's dependencies.
package alertrules

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// repoRoot is two folders up: tests/alertrules is this module's folder.
var repoRoot = filepath.Join("..", "..")

// rule is one alerting rule of the PrometheusRule.
type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func loadRules(t *testing.T) map[string]rule {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "config", "prometheus", "prometheusrule.yaml"))
	require.NoError(t, err)
	// Strict: a misspelt key in a rule fails here rather than being ignored by the Prometheus Operator.
	var doc struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []rule `json:"rules"`
			} `json:"groups"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.UnmarshalStrict(data, &doc))
	require.Equal(t, "PrometheusRule", doc.Kind)
	rules := map[string]rule{}
	for _, g := range doc.Spec.Groups {
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert, "only alerting rules are expected")
			rules[r.Alert] = r
		}
	}
	require.NotEmpty(t, rules)
	return rules
}

// TestEveryAlertIsDocumentedAndParses: summary, description, a severity, and a runbook_url that points at the
// runbook in docs/runbooks with its three sections; the expression parses and its templates expand.
func TestEveryAlertIsDocumentedAndParses(t *testing.T) {
	for name, r := range loadRules(t) {
		t.Run(name, func(t *testing.T) {
			_, err := parser.NewParser(parser.Options{}).ParseExpr(r.Expr)
			require.NoError(t, err, "expr")
			_, err = model.ParseDuration(r.For)
			require.NoError(t, err, "for")
			assert.Contains(t, []string{"critical", "warning", "info"}, r.Labels["severity"])
			for _, key := range []string{"summary", "description", "runbook_url"} {
				require.NotEmpty(t, r.Annotations[key], key)
				expander := template.NewTemplateExpander(context.Background(),
					"{{ $labels := .Labels }}{{ $value := .Value }}"+r.Annotations[key], key,
					template.AlertTemplateData(map[string]string{"reason": "WriteFailed"}, nil, "", promql.Sample{F: 12.5}),
					model.Now(), nil, nil, nil)
				_, err := expander.Expand()
				require.NoError(t, err, "%s template", key)
			}
			u, err := url.Parse(r.Annotations["runbook_url"])
			require.NoError(t, err)
			const prefix = "/configmapsync/configmapsync-operator/blob/main/"
			require.True(t, u.Host == "github.com" && strings.HasPrefix(u.Path, prefix), "runbook_url %s", u)
			runbook := filepath.Join(repoRoot, filepath.FromSlash(strings.TrimPrefix(u.Path, prefix)))
			assert.Equal(t, filepath.Join(repoRoot, "docs", "runbooks", name+".md"), runbook)
			text, err := os.ReadFile(runbook)
			require.NoError(t, err, "runbook")
			for _, section := range []string{"# " + name + "\n", "## Meaning\n", "## Check\n", "## Fix\n"} {
				assert.Contains(t, string(text), section, "runbook %s", runbook)
			}
		})
	}
}

// The names the expressions select by; the ServiceMonitor's job is the metrics Service's name.
const (
	job   = `job="configmapsync-operator-controller-manager-metrics-service"`
	lease = `name="configmapsync-operator.sync.configmapsync.io"`
)

// healthy is two scraped replicas, one leading, nothing failing, the next rotation far ahead: what a working
// install looks like for an hour.
const healthy = `
  up{` + job + `, pod="a"} 1x60
  up{` + job + `, pod="b"} 1x60
  leader_election_master_status{` + lease + `, pod="a"} 1x60
  leader_election_master_status{` + lease + `, pod="b"} 0x60
  configmapsync_sync_duration_seconds_count{result="success", pod="a"} 0+10x60
  configmapsync_sync_duration_seconds_count{result="error", pod="a"} 3x60
  configmapsync_sync_errors_total{reason="Conflict", pod="a"} 1x60
  managedsecret_failures_total{reason="WriteFailed", pod="a"} 2x60
  managedsecret_next_rotation_timestamp_seconds{pod="a"} 86400x60
  managedsecret_next_rotation_timestamp_seconds{pod="b"} 0x60
`

// TestAlertsFireOnTheirFaultAndOnlyThen loads one hour of series per scenario, at one sample a minute, and
// evaluates every rule as Prometheus does: firing at a time when its expression returned something at every
// evaluation (every 30 s) for its whole "for" before it.
func TestAlertsFireOnTheirFaultAndOnlyThen(t *testing.T) {
	rules := loadRules(t)
	scenarios := []struct {
		name   string
		series string
		// firing lists the alerts that must fire at the hour's end (60 min); every other alert must not fire
		// at any minute.
		firing []string
		// notBefore is the earliest minute the firing alerts may fire (their fault starts later than minute 0).
		notBefore int
	}{
		{name: "not scraped at all", series: ""},
		{name: "healthy", series: healthy},
		{name: "healthy, the standby replica never led", series: strings.Replace(healthy,
			`leader_election_master_status{`+lease+`, pod="b"} 0x60`, "", 1)},
		{name: "syncs failing from minute 20", series: healthy + `
  configmapsync_sync_duration_seconds_count{result="error", pod="b"} 0x20 0+2x40
`, firing: []string{"ConfigMapSyncFailing"}, notBefore: 35},
		{name: "conflicts from minute 10", series: healthy + `
  configmapsync_sync_errors_total{reason="Conflict", pod="b"} 0x10 0+1x50
`, firing: []string{"ConfigMapSyncConflicts"}, notBefore: 40},
		{name: "cleanup failing from minute 10", series: healthy + `
  configmapsync_sync_errors_total{reason="CleanupFailed", pod="a"} 0x10 0+1x50
`, firing: []string{"ConfigMapSyncCleanupStuck"}, notBefore: 40},
		{name: "every replica down from minute 40", series: `
  up{` + job + `, pod="a"} 1x40 0x20
  up{` + job + `, pod="b"} 1x40 0x20
  leader_election_master_status{` + lease + `, pod="a"} 1x40
`, firing: []string{"ConfigMapSyncOperatorDown"}, notBefore: 50},
		{name: "replicas up, no leader from minute 30", series: `
  up{` + job + `, pod="a"} 1x60
  up{` + job + `, pod="b"} 1x60
  leader_election_master_status{` + lease + `, pod="a"} 1x30 0x30
`, firing: []string{"ConfigMapSyncOperatorNoLeader"}, notBefore: 35},
		{name: "replicas up, none ever led", series: `
  up{` + job + `, pod="a"} 1x60
  up{` + job + `, pod="b"} 1x60
`, firing: []string{"ConfigMapSyncOperatorNoLeader"}, notBefore: 5},
		{name: "a ManagedSecret failing from minute 20", series: healthy + `
  managedsecret_failures_total{reason="PermanentFailure", pod="a"} 0x20 0+1x40
`, firing: []string{"ManagedSecretFailing"}, notBefore: 35},
		{name: "a rotation due at minute 20 never written", series: `
  up{` + job + `, pod="a"} 1x60
  leader_election_master_status{` + lease + `, pod="a"} 1x60
  managedsecret_next_rotation_timestamp_seconds{pod="a"} 1200x60
`, firing: []string{"ManagedSecretRotationOverdue"}, notBefore: 35},
		{name: "rotations written on time", series: `
  up{` + job + `, pod="a"} 1x60
  leader_election_master_status{` + lease + `, pod="a"} 1x60
  managedsecret_next_rotation_timestamp_seconds{pod="a"} 600+600x60
`},
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1_000_000, Timeout: 10 * time.Second,
		LookbackDelta: 5 * time.Minute})
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			db := load(t, sc.series)
			for name, r := range rules {
				want := slices.Contains(sc.firing, name)
				assert.Equal(t, want, firingAt(t, engine, db, r, 60), "%s at minute 60", name)
				if want {
					assert.False(t, firingAt(t, engine, db, r, sc.notBefore-1), "%s already at minute %d", name, sc.notBefore-1)
				} else {
					for minute := 0; minute < 60; minute++ {
						require.False(t, firingAt(t, engine, db, r, minute), "%s at minute %d", name, minute)
					}
				}
			}
		})
	}
}

// load returns storage holding series, one per line in promqltest's notation (`name{labels} 0+1x60`), at one
// sample a minute from time 0. Its own small in-memory storage, not promqltest's: that one is a TSDB, which would
// compile Prometheus's remote-write cloud SDKs into the test.
func load(t *testing.T, series string) storage.Queryable {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	var all []storage.Series
	for line := range strings.Lines(series) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		lset, values, err := p.ParseSeriesDesc(strings.TrimSpace(line))
		require.NoError(t, err, line)
		var samples []chunks.Sample
		for i, v := range values {
			if !v.Omitted {
				samples = append(samples, floatSample{t: int64(i) * time.Minute.Milliseconds(), f: v.Value})
			}
		}
		all = append(all, storage.NewListSeries(lset, samples))
	}
	return &storage.MockQueryable{MockQuerier: &storage.MockQuerier{
		SelectMockFunction: func(_ bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
			var matched []storage.Series
			for _, s := range all {
				if matchesAll(s.Labels(), matchers) {
					matched = append(matched, s)
				}
			}
			slices.SortFunc(matched, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
			return &seriesSet{series: matched, i: -1}
		}}}
}

func matchesAll(lset labels.Labels, matchers []*labels.Matcher) bool {
	for _, m := range matchers {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

// seriesSet iterates a slice of series.
type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }

// floatSample is one float sample at t (milliseconds).
type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

// evaluationInterval is how often the rules are evaluated, as Prometheus's default global.evaluation_interval.
const evaluationInterval = 30 * time.Second

// firingAt says whether r fires at minute: its expression returned a sample at every evaluation from minute-for
// to minute.
func firingAt(t *testing.T, engine *promql.Engine, db storage.Queryable, r rule, minute int) bool {
	t.Helper()
	hold, err := model.ParseDuration(r.For)
	require.NoError(t, err)
	at := time.Unix(0, 0).Add(time.Duration(minute) * time.Minute)
	if at.Before(time.Unix(0, 0).Add(time.Duration(hold))) {
		return false
	}
	for ts := at.Add(-time.Duration(hold)); !ts.After(at); ts = ts.Add(evaluationInterval) {
		q, err := engine.NewInstantQuery(context.Background(), db, nil, r.Expr, ts)
		require.NoError(t, err, r.Alert)
		res := q.Exec(context.Background())
		require.NoError(t, res.Err, r.Alert)
		vector, err := res.Vector()
		require.NoError(t, err, "%s returns an instant vector", r.Alert)
		q.Close()
		if len(vector) == 0 {
			return false
		}
	}
	return true
}
