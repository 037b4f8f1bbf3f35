// Package logfilter keeps out of the operator's logs what must never be there whatever the verbosity: client-go
// logs the bodies of HTTP requests and answers at V(8) ("Request Body", "Response Body"), and those carry Secret
// data (a source read, a copy written, the API server's answer quoting a value it rejected).
package logfilter

import "github.com/go-logr/logr"

// bodyMessages are the messages under which client-go (k8s.io/client-go/rest) logs HTTP bodies.
var bodyMessages = map[string]bool{"Request Body": true, "Response Body": true}

// WithoutHTTPBodies returns l without the entries that log HTTP bodies; everything else is logged as by l.
func WithoutHTTPBodies(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(sink{l.GetSink()})
}

// sink drops HTTP bodies and passes everything else to the wrapped sink.
type sink struct{ logr.LogSink }

var _ logr.CallDepthLogSink = sink{}

// Init tells the wrapped sink of the frame sink adds, so that it reports the caller's file and line.
func (s sink) Init(info logr.RuntimeInfo) {
	info.CallDepth++
	s.LogSink.Init(info)
}

func (s sink) Info(level int, msg string, keysAndValues ...any) {
	if bodyMessages[msg] {
		return
	}
	s.LogSink.Info(level, msg, keysAndValues...)
}

func (s sink) WithValues(keysAndValues ...any) logr.LogSink {
	return sink{s.LogSink.WithValues(keysAndValues...)}
}

func (s sink) WithName(name string) logr.LogSink { return sink{s.LogSink.WithName(name)} }

func (s sink) WithCallDepth(depth int) logr.LogSink {
	if d, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return sink{d.WithCallDepth(depth)}
	}
	return s
}
