package harness

import (
	"io"
	"net"
	"sync"
	"time"
)

// Forwarder listens on one address and passes each connection to one of several backends, in turn, trying the
// next when a dial fails: what a Service does for the API server's webhook calls when several operator replicas
// run as processes and some of them are down.
type Forwarder struct {
	listener net.Listener
	backends func() []string
	mu       sync.Mutex
	next     int
}

// StartForwarder listens on address and forwards to the host:port addresses backends returns at each connection.
func StartForwarder(address string, backends func() []string) (*Forwarder, error) {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, err
	}
	f := &Forwarder{listener: l, backends: backends}
	go f.serve()
	return f, nil
}

// Close stops listening; connections already forwarded run until either side closes them.
func (f *Forwarder) Close() error { return f.listener.Close() }

func (f *Forwarder) serve() {
	for {
		conn, err := f.listener.Accept()
		if err != nil {
			return
		}
		go f.pass(conn)
	}
}

// pass dials the backends in turn, starting after the one used last, and copies bytes both ways.
func (f *Forwarder) pass(in net.Conn) {
	defer func() { _ = in.Close() }()
	backends := f.backends()
	f.mu.Lock()
	start := f.next
	f.next++
	f.mu.Unlock()
	for i := range backends {
		out, err := net.DialTimeout("tcp", backends[(start+i)%len(backends)], time.Second)
		if err != nil {
			continue
		}
		defer func() { _ = out.Close() }()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(in, out); done <- struct{}{} }()
		go func() { _, _ = io.Copy(out, in); done <- struct{}{} }()
		<-done
		return
	}
}
