package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestSecretValuesNeverLeak runs the flows that touch Secret data (sync, update, rollout, conflict, a failing
// cleanup) with a unique canary value, then searches everything the operator emitted or wrote besides the copies
// themselves: its logs at the most verbose level, every event, the status of every ConfigMapSync, the workloads
// it restarted, and its metrics.
func TestSecretValuesNeverLeak(t *testing.T) {
	canary := fmt.Sprintf("canary-%d-do-not-leak", time.Now().UnixNano())
	canary2 := canary + "-rotated"
	src, dst, blocked := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst"), kit.NewNamespace(t, "blocked")

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "api-key"},
		Data:       map[string][]byte{"token": []byte(canary)},
	}
	kit.Create(t, secret)
	kit.Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: blocked, Name: "api-key"},
		Data: map[string][]byte{"token": []byte("theirs")}})
	workload := deployment(dst, "consumer", "", "")
	workload.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "api-key"}, Key: "token"}}}}
	kit.Create(t, workload)

	cms := v1Sync(src, "secret-flow", "api-key", dst, blocked)
	cms.Spec.Source.Kind = syncv1.SourceKindSecret
	cms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "0s"}
	kit.Create(t, cms)

	cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dst, Name: "api-key"}}
	harness.Eventually(t, k8s, cp, func(c *assert.CollectT, cp *corev1.Secret) { assert.Equal(c, canary, string(cp.Data["token"])) })
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Equal(c, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	})

	update(t, secret, func() { secret.Data["token"] = []byte(canary2) })
	require.Eventually(t, func() bool {
		d := &appsv1.Deployment{}
		return k8s.Get(context.Background(), clientKey(workload), d) == nil && len(d.Spec.Template.Annotations) > 0
	}, waitFor, tick, "the consumer is restarted")

	env.Calls.FailDeletes(dst, 2)
	deleteAndWait(t, cms)

	haystacks := map[string]string{
		"operator logs": operatorLogs.String(),
		"events":        eventsText(t),
		"statuses":      statusesText(t),
		"workloads":     workloadsText(t),
		"metrics":       metricsText(t),
	}
	require.Contains(t, haystacks["operator logs"], "api-key", "the logs cover the flows (positive control)")
	for name, text := range haystacks {
		for _, needle := range []string{canary, canary2} {
			assert.NotContains(t, text, needle, "a Secret value leaked into %s", name)
			for _, enc := range encodings(needle) {
				assert.NotContains(t, text, enc, "a Secret value leaked, encoded, into %s", name)
			}
		}
	}
}

// encodings are the forms a value takes when an object is serialised.
func encodings(s string) []string {
	b, _ := json.Marshal([]byte(s))
	return []string{strings.Trim(string(b), `"`)}
}

func eventsText(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	newEvents, oldEvents := &eventsv1.EventList{}, &corev1.EventList{}
	require.NoError(t, k8s.List(context.Background(), newEvents))
	require.NoError(t, k8s.List(context.Background(), oldEvents))
	require.NoError(t, json.NewEncoder(&buf).Encode(newEvents))
	require.NoError(t, json.NewEncoder(&buf).Encode(oldEvents))
	return buf.String()
}

func statusesText(t *testing.T) string {
	t.Helper()
	list := &syncv1.ConfigMapSyncList{}
	require.NoError(t, k8s.List(context.Background(), list))
	var buf bytes.Buffer
	for _, cms := range list.Items {
		require.NoError(t, json.NewEncoder(&buf).Encode(cms.Status))
		require.NoError(t, json.NewEncoder(&buf).Encode(cms.Annotations))
	}
	return buf.String()
}

func workloadsText(t *testing.T) string {
	t.Helper()
	list := &appsv1.DeploymentList{}
	require.NoError(t, k8s.List(context.Background(), list))
	out, err := json.Marshal(list)
	require.NoError(t, err)
	return string(out)
}

func metricsText(t *testing.T) string {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	require.NoError(t, err)
	var buf bytes.Buffer
	for _, f := range families {
		_, err := expfmt.MetricFamilyToText(&buf, f)
		require.NoError(t, err)
	}
	return buf.String()
}
