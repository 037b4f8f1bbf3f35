// Package migration proves the upgrade path of the seed's question "how would you manage the migration of existing
// CRs": objects created under the 0.1.0 CRD (v1beta1 only) are rewritten as v1 after the CRD upgrade, the CRD's
// status.storedVersions is pruned to [v1], and every object reads back unchanged in both versions.
package migration

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

const crdName = "configmapsyncs.sync.configmapsync.io"

func TestObjectsStoredAsV1beta1AreMigratedToV1(t *testing.T) {
	// The 0.1.0 CRD knows only v1beta1, so it gets no conversion webhook: install it with a scheme that has no hub.
	oldScheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(oldScheme))
	require.NoError(t, syncv1beta1.AddToScheme(oldScheme))
	env, err := harness.Start(harness.Options{
		CRDPaths:            []string{harness.Path("tests", "testdata", "crd-v0.1.0")},
		CRDScheme:           oldScheme,
		NoAdmissionWebhooks: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	k8s := env.Client

	// Objects written by users of 0.1.0.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	require.NoError(t, k8s.Create(ctx, ns))
	const objects = 25
	for i := range objects {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": syncv1beta1.GroupVersion.String(), "kind": "ConfigMapSync",
			"metadata": map[string]any{"namespace": "team-a", "name": fmt.Sprintf("sync-%02d", i)},
			"spec": map[string]any{
				"sourceNamespace": "team-a", "destinationNamespace": fmt.Sprintf("dest-%02d", i), "configMapName": "settings",
			},
		}}
		require.NoError(t, k8s.Create(ctx, obj))
	}
	assert.Equal(t, []string{"v1beta1"}, storedVersions(t, k8s))
	assert.Equal(t, "sync.configmapsync.io/v1beta1", storedAPIVersion(t, env, "team-a", "sync-00"))

	// Upgrade: the new CRD serves both versions and stores v1; the old objects are still stored as v1beta1.
	require.NoError(t, env.InstallCRDs(harness.Path("config", "crd", "bases")))
	require.Eventually(t, func() bool { return len(storedVersions(t, k8s)) == 2 }, 30*time.Second, 100*time.Millisecond)

	stop, err := env.RunOperator(ctx)
	require.NoError(t, err)
	t.Cleanup(stop)

	require.Eventually(t, func() bool {
		v := storedVersions(t, k8s)
		return len(v) == 1 && v[0] == "v1"
	}, time.Minute, 200*time.Millisecond, "status.storedVersions should become [v1]")

	for i := range objects {
		name := fmt.Sprintf("sync-%02d", i)
		assert.Equal(t, "sync.configmapsync.io/v1", storedAPIVersion(t, env, "team-a", name), "%s stored as v1", name)

		old := &syncv1beta1.ConfigMapSync{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, old))
		assert.Equal(t, "team-a", old.Spec.SourceNamespace)
		assert.Equal(t, fmt.Sprintf("dest-%02d", i), old.Spec.DestinationNamespace)
		assert.Equal(t, "settings", old.Spec.ConfigMapName)

		v1 := &syncv1.ConfigMapSync{}
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, v1))
		assert.Equal(t, []string{fmt.Sprintf("dest-%02d", i)}, v1.Spec.Destination.Namespaces)
		assert.Equal(t, "settings", v1.Spec.Source.Name)
	}

	// The migration tells the cluster admin what it did.
	require.Eventually(t, func() bool {
		events := &eventsList{}
		_ = k8s.List(ctx, events.list(), client.InNamespace("default"))
		return events.has("StoredVersionsMigrated")
	}, 30*time.Second, 200*time.Millisecond, "a StoredVersionsMigrated event")
}

func storedVersions(t *testing.T, k8s client.Client) []string {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Name: crdName}, crd))
	return crd.Status.StoredVersions
}

// storedAPIVersion reads an object's bytes straight from etcd (through etcd's JSON gateway) and returns the
// apiVersion it is stored in: the API server always answers in the version asked for, so only etcd can tell.
func storedAPIVersion(t *testing.T, env *harness.Env, namespace, name string) string {
	t.Helper()
	key := fmt.Sprintf("/registry/sync.configmapsync.io/configmapsyncs/%s/%s", namespace, name)
	body, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(key))})
	url := env.ControlPlane.Etcd.URL.String() + "/v3/kv/range"
	resp, err := http.Post(url, "application/json", bytes.NewReader(body)) //nolint:gosec // loopback etcd of the test
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		Kvs []struct {
			Value string `json:"value"`
		} `json:"kvs"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Kvs, 1, "etcd key %s", key)
	raw, err := base64.StdEncoding.DecodeString(out.Kvs[0].Value)
	require.NoError(t, err)
	var stored struct {
		APIVersion string `json:"apiVersion"`
	}
	require.NoError(t, json.Unmarshal(raw, &stored))
	return stored.APIVersion
}

// eventsList lists events.k8s.io events.
type eventsList struct{ items unstructured.UnstructuredList }

func (e *eventsList) list() *unstructured.UnstructuredList {
	e.items.SetAPIVersion("events.k8s.io/v1")
	e.items.SetKind("EventList")
	return &e.items
}

func (e *eventsList) has(reason string) bool {
	for _, ev := range e.items.Items {
		if r, _, _ := unstructured.NestedString(ev.Object, "reason"); r == reason {
			return true
		}
	}
	return false
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
