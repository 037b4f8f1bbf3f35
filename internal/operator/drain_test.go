package operator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// TestTheWebhookServerAnswersThroughTheDelayAfterTheManagerStopsIt runs controller-runtime's webhook server (TLS,
// a real port) inside DrainingWebhookServer: when the manager stops it, Start returns at once (so the manager goes
// on to release the Lease), the server still answers during the delay, and stops answering once drained.
func TestTheWebhookServerAnswersThroughTheDelayAfterTheManagerStopsIt(t *testing.T) {
	certs := &envtest.WebhookInstallOptions{}
	require.NoError(t, certs.PrepWithoutInstalling(), "a serving certificate and its CA")
	t.Cleanup(func() { _ = certs.Cleanup() })
	inner := webhook.NewServer(webhook.Options{Host: certs.LocalServingHost, Port: certs.LocalServingPort, CertDir: certs.LocalServingCertDir})
	inner.Register("/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) }))
	server := NewDrainingWebhookServer(inner, 3*time.Second)

	ctx, stop := context.WithCancel(context.Background())
	returned := make(chan error, 1)
	go func() { returned <- server.Start(ctx) }()
	ping := pinger(t, certs)
	require.Eventually(t, func() bool { return ping() == nil }, 10*time.Second, 20*time.Millisecond, "the server answers")

	stop()
	select {
	case err := <-returned:
		require.NoError(t, err)
	case <-time.After(time.Second):
		t.Fatal("Start did not return when the manager stopped the server")
	}
	assert.NoError(t, ping(), "the server answers after the manager stopped it")
	server.WaitUntilDrained()
	assert.Error(t, ping(), "the server stops answering once drained")
}

// TestWaitUntilDrainedReturnsAtOnceForAServerNeverStarted keeps a process whose manager failed before starting its
// webhook server from hanging on the way out.
func TestWaitUntilDrainedReturnsAtOnceForAServerNeverStarted(t *testing.T) {
	server := NewDrainingWebhookServer(webhook.NewServer(webhook.Options{}), time.Hour)
	done := make(chan struct{})
	go func() { server.WaitUntilDrained(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("WaitUntilDrained waited for a server that never started")
	}
}

// pinger returns a function that calls /ping on the server of certs over a new connection each time.
func pinger(t *testing.T, certs *envtest.WebhookInstallOptions) func() error {
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(certs.LocalServingCAData))
	address := "https://" + net.JoinHostPort(certs.LocalServingHost, strconv.Itoa(certs.LocalServingPort)) + "/ping"
	return func() error {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, DisableKeepAlives: true}}
		resp, err := c.Get(address)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
}
