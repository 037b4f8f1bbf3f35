package operator

import (
	"context"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// DrainingWebhookServer is a webhook server that keeps answering for a delay after the manager stops it.
//
// When a pod of the operator is deleted (a rolling upgrade, a drained node), its endpoint leaves the webhook Service
// at once, but the API server's routes to it do not: kube-proxy rewrites its rules a second or more later, and the API
// server may hold a kept-alive connection to the pod. A server that stops at SIGTERM leaves those calls to a closed
// port; the API server retries them until the webhook's 10 s timeout, and the user's create or update fails with
// "context deadline exceeded". Serving through the delay lets the routes move to the other replica first.
//
// The manager is told the server stopped at once, so that the controllers stop and the leader Lease is released
// without waiting for the delay (the manager releases it only after every runnable has returned); the process must
// wait for it (WaitUntilDrained) before it exits.
type DrainingWebhookServer struct {
	webhook.Server
	// Delay is how long the server keeps serving after the manager stops it.
	Delay time.Duration
	// started is set once the manager started the server; drained is closed once the server has stopped.
	started atomic.Bool
	drained chan struct{}
}

// NewDrainingWebhookServer wraps server so that it serves for delay after the manager stops it.
func NewDrainingWebhookServer(server webhook.Server, delay time.Duration) *DrainingWebhookServer {
	return &DrainingWebhookServer{Server: server, Delay: delay, drained: make(chan struct{})}
}

// Start runs the server until ctx ends, and returns then; the server goes on serving for Delay.
func (s *DrainingWebhookServer) Start(ctx context.Context) error {
	s.started.Store(true)
	serving, stop := context.WithCancel(context.WithoutCancel(ctx))
	stopped := make(chan error, 1)
	go func() {
		defer close(s.drained)
		stopped <- s.Server.Start(serving)
	}()
	select {
	case err := <-stopped:
		stop()
		return err
	case <-ctx.Done():
		time.AfterFunc(s.Delay, stop)
		return nil
	}
}

// WaitUntilDrained returns once the server has stopped serving: Delay after the manager stopped it, at once if it
// failed or was never started.
func (s *DrainingWebhookServer) WaitUntilDrained() {
	if s.started.Load() {
		<-s.drained
	}
}
