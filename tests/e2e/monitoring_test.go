//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/monitoring"
)

// waitForMonitoring waits for the ServiceMonitor, its token Secret and the PrometheusRule the operator installs at
// start where the Prometheus Operator's CRDs exist, owned by its metrics Service; then scrapes as the
// ServiceMonitor does.
func (s *stack) waitForMonitoring(t *testing.T) {
	t.Helper()
	s.waitForMonitoringObjects(t)
	s.checkScrapeAuthorization(t)
}

// checkScrapeAuthorization scrapes /metrics through the metrics Service the way the ServiceMonitor says: with the
// token from the Secret it names, which must be let in (the metrics-scraper account OLM bound to the metrics
// reader role), while no token, or the token of an account without that role, is refused.
func (s *stack) checkScrapeAuthorization(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	monitor := &unstructured.Unstructured{}
	monitor.SetAPIVersion(monitoring.GroupVersion)
	monitor.SetKind("ServiceMonitor")
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace,
		Name: "configmapsync-operator-controller-manager-metrics-monitor"}, monitor))
	endpoints, _, _ := unstructured.NestedSlice(monitor.Object, "spec", "endpoints")
	require.Len(t, endpoints, 1)
	endpoint := endpoints[0].(map[string]any)
	require.NotContains(t, endpoint, "bearerTokenFile", "OpenShift user-workload monitoring refuses it")
	secretName, _, _ := unstructured.NestedString(endpoint, "authorization", "credentials", "name")
	secretKey, _, _ := unstructured.NestedString(endpoint, "authorization", "credentials", "key")

	var token string
	waitFor(t, time.Minute, "the token controller to fill "+secretName, func() (bool, string) {
		secret := &corev1.Secret{}
		if err := s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: secretName}, secret); err != nil {
			return false, err.Error()
		}
		token = string(secret.Data[secretKey])
		return token != "", fmt.Sprintf("keys %v", slices.Collect(maps.Keys(secret.Data)))
	})
	other, err := s.clientset.CoreV1().ServiceAccounts(operatorNamespace).CreateToken(ctx, "default",
		&authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	require.NoError(t, err)

	service := &corev1.Service{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: monitoring.MetricsService}, service))
	url := fmt.Sprintf("https://%s:8443/metrics", service.Spec.ClusterIP)
	for _, c := range []struct {
		who    string
		token  string
		status int
	}{{"the ServiceMonitor's token", token, http.StatusOK}, {"no token", "", http.StatusUnauthorized},
		{"the default ServiceAccount's token", other.Status.Token, http.StatusForbidden}} {
		status, body := scrape(t, url, c.token)
		assert.Equal(t, c.status, status, "scraping with %s", c.who)
		if c.status == http.StatusOK {
			// Metrics every replica exports, leader or not (the Service may send the scrape to either).
			for _, metric := range []string{"configmapsync_last_successful_sync_timestamp_seconds", "managedsecret_rotations_total",
				"managedsecret_next_rotation_timestamp_seconds"} {
				assert.True(t, strings.Contains(body, "\n"+metric+" "), "the scrape has %s", metric)
			}
		}
	}
}

// scrape GETs url with token as the bearer (none when empty), as Prometheus does with insecureSkipVerify, and
// returns the status and body.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	httpClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // as the ServiceMonitor: the manager's certificate is self-made
	// Right after an upgrade kube-proxy may still send some connections to a replica that is gone: try again until
	// one is answered, as Prometheus does at its next scrape.
	var status int
	var body []byte
	waitFor(t, time.Minute, "an answer from "+url, func() (bool, string) {
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		if body, err = io.ReadAll(resp.Body); err != nil {
			return false, err.Error()
		}
		status = resp.StatusCode
		return true, ""
	})
	return status, string(body)
}

// waitForMonitoringObjects waits for the objects the operator installs, each owned by the metrics Service.
func (s *stack) waitForMonitoringObjects(t *testing.T) {
	t.Helper()
	objects, err := monitoring.Objects()
	require.NoError(t, err)
	waitFor(t, time.Minute, "the operator's ServiceMonitor, token Secret and PrometheusRule", func() (bool, string) {
		for _, want := range objects {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(want.GroupVersionKind())
			if err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: want.GetName()}, got); err != nil {
				return false, err.Error()
			}
			owners := got.GetOwnerReferences()
			if !slices.ContainsFunc(owners, func(o metav1.OwnerReference) bool { return o.Kind == "Service" && o.Name == monitoring.MetricsService }) {
				return false, fmt.Sprintf("%s owned by %v", want.GetKind(), owners)
			}
		}
		return true, ""
	})
}
