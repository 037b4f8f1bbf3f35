package harness

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/configmapsync/configmapsync-operator/controllers/configmapsync"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
)

// Write is one write the operator sent to the API server.
type Write struct {
	Verb, Kind, Namespace, Name string
}

// Calls records the operator's writes and injects faults into them. The operator still talks to the real API
// server: only the calls a test asks to fail are answered by the harness.
type Calls struct {
	mu             sync.Mutex
	writes         []Write
	failDeletes    int
	failDeletesFor string
	failWrites     func(Write) bool
}

// Writes returns the writes that match keep.
func (c *Calls) Writes(keep func(Write) bool) []Write {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Write
	for _, w := range c.writes {
		if keep(w) {
			out = append(out, w)
		}
	}
	return out
}

// FailDeletes makes the next n deletes of objects in namespace fail with a server error.
func (c *Calls) FailDeletes(namespace string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failDeletes, c.failDeletesFor = n, namespace
}

// FailWrites makes every write that match selects fail with a server error, until it is called again (nil fails
// none).
func (c *Calls) FailWrites(match func(Write) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failWrites = match
}

func (c *Calls) record(verb string, obj client.Object) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = kindOf(obj)
	}
	w := Write{Verb: verb, Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
	c.writes = append(c.writes, w)
	if c.failWrites != nil && c.failWrites(w) {
		return apierrors.NewInternalError(errInjected)
	}
	if verb == "delete" && c.failDeletes > 0 && obj.GetNamespace() == c.failDeletesFor {
		c.failDeletes--
		return apierrors.NewInternalError(errInjected)
	}
	return nil
}

type injected struct{}

func (injected) Error() string { return "fault injected by the test harness" }

var errInjected = injected{}

func kindOf(obj client.Object) string {
	t := schema.GroupVersionKind{}
	if gvks, _, err := NewSchemeForKinds().ObjectKinds(obj); err == nil && len(gvks) > 0 {
		t = gvks[0]
	}
	return t.Kind
}

// newClient returns the operator's client, wrapped so that c sees (and may fail) every write.
func (c *Calls) newClient(config *rest.Config, options client.Options) (client.Client, error) {
	inner, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	return interceptor.NewClient(inner, testkit.WriteTap(c.record)), nil
}

// WrapCopyWriter returns w, wrapped so that c sees (and may fail) every write of a copy that bypasses the
// operator's client.
func (c *Calls) WrapCopyWriter(w configmapsync.Writer) configmapsync.Writer {
	return recordingWriter{calls: c, inner: w}
}

type recordingWriter struct {
	calls *Calls
	inner configmapsync.Writer
}

func (w recordingWriter) Create(ctx context.Context, obj client.Object) error {
	if err := w.calls.record("create", obj); err != nil {
		return err
	}
	return w.inner.Create(ctx, obj)
}

func (w recordingWriter) Patch(ctx context.Context, obj client.Object, patch []byte) error {
	if err := w.calls.record("patch", obj); err != nil {
		return err
	}
	return w.inner.Patch(ctx, obj, patch)
}
