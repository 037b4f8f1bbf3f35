package integration

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/configmapsync/configmapsync-operator/internal/metawrite"
)

// countingBody counts the bytes of the API server's answers.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

type countingTransport struct {
	inner http.RoundTripper
	n     *atomic.Int64
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(req)
	if err == nil {
		resp.Body = countingBody{ReadCloser: resp.Body, n: t.n}
	}
	return resp, err
}

// TestCopyWritesReadBackOnlyMetadata shows that the operator's writer of copies sends the whole object and gets
// back its metadata only: a 1 MiB copy costs a few hundred bytes of answer, not a MiB decoded per namespace.
func TestCopyWritesReadBackOnlyMetadata(t *testing.T) {
	ctx := context.Background()
	var answered atomic.Int64
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{inner: rt, n: &answered} }
	httpClient, err := rest.HTTPClientFor(cfg)
	require.NoError(t, err)
	w, err := metawrite.New(cfg, httpClient)
	require.NoError(t, err)

	ns := kit.NewNamespace(t, "metawrite")
	big := strings.Repeat("x", 1<<20-1024)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundle", Labels: map[string]string{"team": "a"}},
		Data:       map[string]string{"ca.crt": big},
	}
	require.NoError(t, w.Create(ctx, cm))
	assert.NotEmpty(t, cm.UID, "the answer's metadata is set on the object")
	assert.NotEmpty(t, cm.ResourceVersion)
	assert.Equal(t, "a", cm.Labels["team"])
	assert.Equal(t, big, cm.Data["ca.crt"], "the data sent is left in place")
	assert.Less(t, answered.Load(), int64(16<<10), "the answer to a 1 MiB create is metadata only")

	stored := &corev1.ConfigMap{}
	require.NoError(t, k8s.Get(ctx, clientKey(cm), stored))
	assert.Equal(t, big, stored.Data["ca.crt"], "the whole object was written")
	assert.Equal(t, cm.ResourceVersion, stored.ResourceVersion)

	stale := cm.ResourceVersion
	cm.Data = map[string]string{"ca.crt": big + "y"}
	answered.Store(0)
	require.NoError(t, w.Update(ctx, cm))
	assert.NotEqual(t, stale, cm.ResourceVersion)
	assert.Less(t, answered.Load(), int64(16<<10), "the answer to a 1 MiB update is metadata only")
	require.NoError(t, k8s.Get(ctx, clientKey(cm), stored))
	assert.Equal(t, big+"y", stored.Data["ca.crt"])

	cm.ResourceVersion = stale
	err = w.Update(ctx, cm)
	assert.True(t, apierrors.IsConflict(err), "an update from a stale version is refused by the optimistic lock: %v", err)
	err = w.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bundle"}})
	assert.True(t, apierrors.IsAlreadyExists(err), "a create never overwrites: %v", err)

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "creds"},
		Type:       corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("s3cret")},
	}
	require.NoError(t, w.Create(ctx, secret))
	assert.NotEmpty(t, secret.UID)
	storedSecret := &corev1.Secret{}
	require.NoError(t, k8s.Get(ctx, clientKey(secret), storedSecret))
	assert.Equal(t, []byte("s3cret"), storedSecret.Data["password"])
}
