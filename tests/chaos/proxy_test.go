//go:build chaos

package chaos

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// fault is one kind of fault the proxy injects.
type fault string

const (
	faultNone = fault("")
	// fault500 and fault503 answer with a server error; the request never reaches the API server.
	fault500 = fault("http-500")
	fault503 = fault("http-503")
	// fault429 asks the client to come back in a second, as API priority and fairness does.
	fault429 = fault("http-429")
	// faultLatency delays the request by 200-800 ms before forwarding it.
	faultLatency = fault("latency")
	// faultDropBefore closes the connection without forwarding the request.
	faultDropBefore = fault("drop-before-forward")
	// faultDropAfter forwards the request and then closes the connection without answering: the write took
	// effect, but the client cannot know it.
	faultDropAfter = fault("drop-after-forward")
	// faultWatchCut closes a watch's connection in the middle of its stream.
	faultWatchCut = fault("watch-cut")
)

// requestFaults are the faults a request may get, with their weights.
var requestFaults = []struct {
	fault  fault
	weight int
}{
	{fault500, 20}, {fault503, 20}, {fault429, 20}, {faultLatency, 25}, {faultDropBefore, 8}, {faultDropAfter, 7},
}

// mutation is one write that reached the API server through the proxy.
type mutation struct {
	replica                   int
	method, path              string
	resource, namespace, name string
	// status is the API server's answer (also for faultDropAfter, where the client never saw it).
	status int
	// labels are the object's labels from a POST or PUT body.
	labels map[string]string
}

// succeeded reports whether the API server applied the write.
func (m mutation) succeeded() bool { return m.status >= 200 && m.status < 300 }

// key is "namespace/name" of the object written.
func (m mutation) key() string { return m.namespace + "/" + m.name }

// proxy sits between the operator's replicas and the API server. Each replica has its own listener, so the proxy
// knows who sent what; requests are forwarded with the envtest admin's credentials.
type proxy struct {
	forward *httputil.ReverseProxy

	mu sync.Mutex
	// rate is the share of requests that get a fault; 0 stops the faults.
	rate   float64
	rng    *rand.Rand
	counts map[fault]int
	// mutations are every write that reached the API server.
	mutations []mutation
	// leaseWrites holds, per replica, the body of its last successful write to the leader-election Lease.
	leaseWrites map[int][]byte

	servers []*http.Server
	addrs   []string
}

// leaseID is the operator's leader-election Lease, in namespace default.
const leaseID = operator.LeaderElectionID

// newProxy starts one listener per replica on 127.0.0.1, forwarding to the API server of cfg.
func newProxy(cfg *rest.Config, seed uint64, replicas int, rate float64) (*proxy, error) {
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	p := &proxy{
		rate: rate, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		counts: map[fault]int{}, leaseWrites: map[int][]byte{},
	}
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport:     transport,
		FlushInterval: -1, // Watches stream: every event is passed on at once.
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			// The API server is down (it restarts once) or the client went away.
			writeStatus(w, http.StatusBadGateway, "ServiceUnavailable", "chaos proxy: "+err.Error())
		},
	}
	for i := range replicas {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.close()
			return nil, err
		}
		srv := &http.Server{Handler: p.handler(i), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
		go func() { _ = srv.Serve(l) }()
		p.servers = append(p.servers, srv)
		p.addrs = append(p.addrs, l.Addr().String())
	}
	return p, nil
}

// close stops every listener and closes the connections still open.
func (p *proxy) close() {
	for _, s := range p.servers {
		_ = s.Close()
	}
}

// setRate changes the share of requests that get a fault.
func (p *proxy) setRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// handler serves the requests of one replica.
func (p *proxy) handler(replica int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(r)
		if err != nil {
			writeStatus(w, http.StatusBadRequest, "BadRequest", err.Error())
			return
		}
		watch := r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1"
		f, delay := p.pick(watch)
		if p.injectBefore(w, r, f, delay) {
			return
		}
		if watch {
			var disarm func()
			r, disarm = p.armWatchCut(r)
			defer disarm()
		}
		if f == faultDropAfter {
			rec := httptest.NewRecorder()
			p.forward.ServeHTTP(rec, r)
			p.record(replica, r, body, rec.Code)
			hijackAndClose(w)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		p.forward.ServeHTTP(sw, r)
		p.record(replica, r, body, sw.status)
	})
}

// injectBefore applies the faults that act before forwarding and reports whether the request is answered.
func (p *proxy) injectBefore(w http.ResponseWriter, r *http.Request, f fault, delay time.Duration) bool {
	switch f {
	case fault500:
		writeStatus(w, http.StatusInternalServerError, "InternalError", "fault injected by the chaos proxy")
	case fault503:
		writeStatus(w, http.StatusServiceUnavailable, "ServiceUnavailable", "fault injected by the chaos proxy")
	case fault429:
		w.Header().Set("Retry-After", "1")
		writeStatus(w, http.StatusTooManyRequests, "TooManyRequests", "fault injected by the chaos proxy")
	case faultDropBefore:
		hijackAndClose(w)
	case faultLatency:
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
		return false
	default:
		return false
	}
	return true
}

// pick decides the fault for one request, if any, and counts it.
func (p *proxy) pick(watch bool) (fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rng.Float64() >= p.rate {
		return faultNone, 0
	}
	total := 0
	for _, f := range requestFaults {
		total += f.weight
	}
	n := p.rng.IntN(total)
	f := requestFaults[len(requestFaults)-1].fault
	for _, rf := range requestFaults {
		if n < rf.weight {
			f = rf.fault
			break
		}
		n -= rf.weight
	}
	if watch && f == faultDropAfter {
		f = faultDropBefore // A watch has no answer to lose after the fact; it is cut mid-stream instead.
	}
	p.counts[f]++
	return f, time.Duration(200+p.rng.IntN(600)) * time.Millisecond
}

// armWatchCut decides whether a watch gets cut mid-stream, and if so returns r with a context that is cancelled
// after a while, and the function that disarms it. When the upstream side is cancelled, ReverseProxy aborts the
// response (http.ErrAbortHandler), so the client sees its connection drop, not a clean end of the stream.
func (p *proxy) armWatchCut(r *http.Request) (*http.Request, func()) {
	p.mu.Lock()
	after := time.Duration(0)
	if p.rate > 0 && p.rng.Float64() < p.rate*3 {
		after = time.Duration(2000+p.rng.IntN(10000)) * time.Millisecond
	}
	p.mu.Unlock()
	if after == 0 {
		return r, func() {}
	}
	ctx, cancel := context.WithCancel(r.Context())
	timer := time.AfterFunc(after, func() {
		p.mu.Lock()
		p.counts[faultWatchCut]++
		p.mu.Unlock()
		cancel()
	})
	return r.WithContext(ctx), func() { timer.Stop(); cancel() }
}

// record remembers a write that reached the API server, and the Lease writes that tell who leads.
func (p *proxy) record(replica int, r *http.Request, body []byte, status int) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return
	}
	m := mutation{replica: replica, method: r.Method, path: r.URL.Path, status: status}
	m.resource, m.namespace, m.name = parsePath(r.URL.Path)
	if m.resource == "configmaps" || m.resource == "secrets" {
		m.fromBody(body)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mutations = append(p.mutations, m)
	if m.resource == "leases" && m.namespace == "default" && m.succeeded() && bytes.Contains(body, []byte(leaseID)) {
		p.leaseWrites[replica] = body
	}
}

// fromBody takes the name (a POST has it only there) and the labels from a POST or PUT body, whatever its
// encoding (JSON or protobuf).
func (m *mutation) fromBody(body []byte) {
	if m.method != http.MethodPost && m.method != http.MethodPut {
		return
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if err != nil {
		return
	}
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if m.name == "" {
		m.name = accessor.GetName()
	}
	m.labels = accessor.GetLabels()
}

// forgetLeader drops what the proxy knows about a replica's leadership, when its process is replaced.
func (p *proxy) forgetLeader(replica int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.leaseWrites, replica)
}

// replicaHolding returns the replica whose last Lease write named identity (the Lease's holderIdentity): what each
// one wrote tells them apart, whatever identities they hold.
func (p *proxy) replicaHolding(identity string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for replica, body := range p.leaseWrites {
		if identity != "" && bytes.Contains(body, []byte(identity)) {
			return replica, true
		}
	}
	return 0, false
}

// writes returns a copy of the writes recorded so far.
func (p *proxy) writes() []mutation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]mutation(nil), p.mutations...)
}

// faultCounts returns "kind=n" for every fault injected, sorted, and their total.
func (p *proxy) faultCounts() (string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := make([]string, 0, len(p.counts))
	total := 0
	for f, n := range p.counts {
		parts = append(parts, fmt.Sprintf("%s=%d", f, n))
		total += n
	}
	sort.Strings(parts)
	return strings.Join(parts, " "), total
}

// parsePath returns the resource, namespace and name of an API path such as /api/v1/namespaces/ns/configmaps/x
// or /apis/group/version/namespaces/ns/resource/name/subresource.
func parsePath(path string) (resource, namespace, name string) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return "", "", ""
	}
	if len(parts) >= 2 && parts[0] == "namespaces" && len(parts) > 2 {
		namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 0 {
		resource = parts[0]
	}
	if len(parts) > 1 {
		name = parts[1]
	}
	return resource, namespace, name
}

// readBody reads a request's body and puts it back for forwarding.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, err
}

// writeStatus answers with a Kubernetes Status object, as the API server would.
func writeStatus(w http.ResponseWriter, code int, reason, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`,
		message, reason, code)
}

// hijackAndClose drops the client's connection without an answer.
func hijackAndClose(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // Also closes the connection, when hijacking is not possible.
	}
	_ = conn.Close()
}

// statusWriter remembers the status code of a response; Unwrap lets ReverseProxy flush through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
