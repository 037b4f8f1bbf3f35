package integration

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/monitoring"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// TestMonitoringIsInstalledOnlyWhereThePrometheusOperatorIs checks the installer the manager runs on its leader:
// on a cluster without the Prometheus Operator's CRDs it writes nothing and reports no error; once they exist, it
// applies the ServiceMonitor, its token Secret and the PrometheusRule in the operator's namespace, owned by the
// metrics Service (so they go at uninstall), and puts back one that was deleted.
func TestMonitoringIsInstalledOnlyWhereThePrometheusOperatorIs(t *testing.T) {
	ctx := context.Background()
	disco, err := discovery.NewDiscoveryClientForConfig(env.Config)
	require.NoError(t, err)
	ns := kit.NewNamespace(t, "operator-home")
	installer := &monitoring.Installer{Client: k8s, Reader: k8s, Discovery: disco, Namespace: ns,
		FieldOwner: "configmapsync-operator", Log: logr.Discard()}
	objects, err := monitoring.Objects()
	require.NoError(t, err)
	kinds := map[string]bool{}
	for _, obj := range objects {
		kinds[obj.GetKind()] = true
	}
	require.Equal(t, map[string]bool{"ServiceMonitor": true, "Secret": true, "PrometheusRule": true}, kinds,
		"a ServiceMonitor, the token Secret it scrapes with, and a PrometheusRule")

	// No Prometheus Operator: nothing to do, no error (the CRDs cannot be removed again, so this comes first), and
	// no token Secret nothing would use.
	require.NoError(t, installer.Install(ctx))
	secrets := &corev1.SecretList{}
	require.NoError(t, k8s.List(ctx, secrets, client.InNamespace(ns)))
	assert.Empty(t, secrets.Items, "Secrets written without the Prometheus Operator")

	require.NoError(t, env.InstallCRDs(harness.Path("tests", "testdata", "prometheus-crds")))
	// The CRDs, but no metrics Service yet (a `make run` outside the cluster): nothing either.
	require.NoError(t, installer.Install(ctx))
	for _, obj := range objects {
		assert.True(t, apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: obj.GetName()}, obj.DeepCopy())),
			"%s written without the metrics Service", obj.GetKind())
	}

	service := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: monitoring.MetricsService},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "https", Port: 8443}}}}
	kit.Create(t, service)
	require.NoError(t, installer.Install(ctx))
	for _, want := range objects {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(want.GroupVersionKind())
		require.NoError(t, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: want.GetName()}, got), want.GetKind())
		assert.Equal(t, want.Object["spec"], got.Object["spec"], "%s: the spec of config/prometheus", want.GetKind())
		assert.Equal(t, want.Object["type"], got.Object["type"], "%s: the type of config/prometheus", want.GetKind())
		assert.Subset(t, got.GetAnnotations(), want.GetAnnotations(), want.GetKind())
		if owners := got.GetOwnerReferences(); assert.Len(t, owners, 1, want.GetKind()) {
			assert.Equal(t, service.UID, owners[0].UID, "%s is owned by the metrics Service", want.GetKind())
		}
	}

	// Deleted by someone: the next round puts it back.
	deleted := objects[0].DeepCopy()
	deleted.SetNamespace(ns)
	require.NoError(t, k8s.Delete(ctx, deleted))
	require.NoError(t, installer.Install(ctx))
	assert.NoError(t, k8s.Get(ctx, client.ObjectKeyFromObject(deleted), deleted.DeepCopy()), "%s is back", deleted.GetKind())
}
