//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
)

// releasedVersions are the earlier releases the catalog keeps (tests/testdata/bundle-<version>, their managers built
// from their release commits), oldest first.
var releasedVersions = []string{"0.1.0", "0.2.0"}

// releaseReplicas is how many replicas each earlier release's CSV runs (0.1.0 had no leader election).
var releaseReplicas = map[string]int{"0.1.0": 1, "0.2.0": 2}

// TestOLMUpgrade installs each earlier release from the catalog (0.1.0: v1beta1 only, no webhooks; 0.2.0: v1 with
// webhooks), each with its own binary, creates ConfigMapSyncs, and lets OLM upgrade the Subscription to the current
// bundle: OLM's CRD checks, the new CSV, the new pods, conversion, defaulting and stored-version migration, with
// the copies in place all along.
func TestOLMUpgrade(t *testing.T) {
	for _, from := range releasedVersions {
		t.Run("from "+from, func(t *testing.T) { upgradeFrom(t, from) })
	}
}

func upgradeFrom(t *testing.T, from string) {
	ctx := context.Background()
	s := startStack(t, true) // The Prometheus Operator's CRDs: 0.2.0's bundle carries a ServiceMonitor.
	r := newPods(s, operatorNamespace)

	// Manual approval, so the test decides when OLM moves on to the next release.
	s.subscribe(t, csvName(from), "Manual")
	s.approveInstallPlanFor(t, csvName(from))
	s.waitForCSV(t, csvName(from), "Succeeded")
	s.waitForReplicas(t, r, releaseReplicas[from])
	if from != "0.1.0" {
		s.waitForConversionWiring(t) // v1beta1 objects go through the conversion webhook.
	}

	const n = 5
	s.namespaces(t, "legacy", "legacy-copies")
	want := map[string]string{}
	for i := range n {
		name := fmt.Sprintf("settings-%d", i)
		data := map[string]string{"index": fmt.Sprint(i)}
		want[name] = data["index"]
		s.apply(t, configMap("legacy", name, data))
		require.NoError(t, s.k8s.Create(ctx, &syncv1beta1.ConfigMapSync{
			ObjectMeta: metav1.ObjectMeta{Namespace: "legacy", Name: name},
			Spec: syncv1beta1.ConfigMapSyncSpec{SourceNamespace: "legacy", DestinationNamespace: "legacy-copies",
				ConfigMapName: name}}))
	}
	uids := map[string]string{}
	for name, index := range want {
		s.waitForCopies(t, "ConfigMap", name, []string{"legacy-copies"}, map[string]string{"index": index})
		_, uid, _ := s.copyOf("ConfigMap", "legacy-copies", name)
		uids[name] = uid
	}

	// Watch the copies through the upgrade: none may disappear or be re-created.
	watch := s.watchCopies("legacy-copies", uids)

	approved := time.Now()
	s.approveInstallPlanFor(t, csvName(currentVersion))
	s.waitForCSV(t, csvName(currentVersion), "Succeeded")
	report(t, "upgrade %s → %s: InstallPlan approved to CSV Succeeded in %s", from, currentVersion,
		time.Since(approved).Round(time.Second))
	s.waitForReplicas(t, r, 2)
	s.waitForConversionWiring(t)
	report(t, "upgrade %s: to 2 ready replicas of %s with a leader in %s", from, currentVersion, time.Since(approved).Round(time.Second))
	s.reportInstallPlanSteps(t, csvName(currentVersion))

	// The old CSV is gone, the CRD serves both versions and, once the new operator migrated, stores only v1.
	waitFor(t, time.Minute, "CSV "+from+" to be removed", func() (bool, string) {
		err := s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: csvName(from)},
			olmObject("ClusterServiceVersion"))
		return err != nil, "still there"
	})
	migrated := waitFor(t, 2*time.Minute, "storedVersions == [v1]", func() (bool, string) {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd); err != nil {
			return false, err.Error()
		}
		return fmt.Sprint(crd.Status.StoredVersions) == "[v1]", fmt.Sprint(crd.Status.StoredVersions)
	})
	report(t, "upgrade %s: stored-version migration finished %s after the replicas were ready", from, migrated.Round(time.Second))

	for name, index := range want {
		v1 := s.waitReady(t, "legacy", name)
		assert.Equal(t, "5m", v1.Spec.SyncFrequency, "%s: default applied", name)
		assert.Equal(t, syncv1.SyncStrategyAutomatic, v1.Spec.SyncStrategy, "%s: default applied", name)
		assert.Equal(t, syncv1.DeletionPolicyDelete, v1.Spec.DeletionPolicy, "%s: default applied", name)
		assert.Equal(t, []string{"legacy-copies"}, v1.Spec.Destination.Namespaces)
		beta := &unstructured.Unstructured{}
		beta.SetAPIVersion("sync.configmapsync.io/v1beta1")
		beta.SetKind("ConfigMapSync")
		require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: "legacy", Name: name}, beta), "readable as v1beta1")
		dest, _, _ := unstructured.NestedString(beta.Object, "spec", "destinationNamespace")
		assert.Equal(t, "legacy-copies", dest)
		data, uid, ok := s.copyOf("ConfigMap", "legacy-copies", name)
		assert.True(t, ok)
		assert.Equal(t, uids[name], uid, "%s: the same copy, not a re-created one", name)
		assert.Equal(t, map[string]string{"index": index}, data)
	}
	missing := watch()
	assert.Empty(t, missing, "copies missing or re-created during the upgrade")

	// The current bundle carries no monitoring objects; its operator installs them, owned by the metrics Service.
	s.waitForMonitoring(t)

	// The upgraded operator keeps syncing the old objects.
	require.NoError(t, s.k8s.Update(ctx, configMap("legacy", "settings-0", map[string]string{"index": "updated"})))
	s.waitForCopies(t, "ConfigMap", "settings-0", []string{"legacy-copies"}, map[string]string{"index": "updated"})
}

// watchCopies polls the copies until the returned function is called, which returns every moment a copy was
// missing or had another UID.
func (s *stack) watchCopies(namespace string, uids map[string]string) func() []string {
	var mu sync.Mutex
	var problems []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			for name, uid := range uids {
				if _, got, ok := s.copyOf("ConfigMap", namespace, name); !ok || got != uid {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("%s at %s: exists=%v uid=%s", name, time.Now().Format(time.TimeOnly), ok, got))
					mu.Unlock()
				}
			}
		}
	}()
	return func() []string {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return problems
	}
}

// reportInstallPlanSteps prints the steps of the InstallPlan that installed csv, as OLM recorded them.
func (s *stack) reportInstallPlanSteps(t *testing.T, csv string) {
	t.Helper()
	plans, err := s.installPlans()
	require.NoError(t, err)
	for _, plan := range plans {
		if installsCSV(&plan) != csv {
			continue
		}
		steps, _, _ := unstructured.NestedSlice(plan.Object, "status", "plan")
		kinds := make([]string, 0, len(steps))
		for _, step := range steps {
			kind, _, _ := unstructured.NestedString(step.(map[string]any), "resource", "kind")
			status, _, _ := unstructured.NestedString(step.(map[string]any), "status")
			kinds = append(kinds, kind+"="+status)
		}
		report(t, "upgrade: InstallPlan %s steps: %v", plan.GetName(), kinds)
	}
}
