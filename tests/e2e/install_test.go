//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
)

const currentVersion = "0.3.0"

// TestOLMInstallUseFailoverUninstall installs the current bundle through a Subscription on a cluster without the
// Prometheus Operator (OLM refuses a bundle with kinds the cluster does not know), uses the operator in both API
// versions, kills and stops its leader, and uninstalls it as OLM documents.
func TestOLMInstallUseFailoverUninstall(t *testing.T) {
	s := startStack(t, false)
	r := newPods(s, operatorNamespace)

	subscribed := time.Now()
	s.subscribe(t, csvName(currentVersion), "Automatic")
	s.waitForCSV(t, csvName(currentVersion), "Succeeded")
	report(t, "Subscription to CSV %s Succeeded: %s", currentVersion, time.Since(subscribed).Round(time.Second))
	s.checkCatalogServedFromItsImage(t, csvName(currentVersion))
	s.checkBundleUnpackedFromItsImage(t)
	s.waitForReplicas(t, r, 2)
	s.waitForConversionWiring(t)
	report(t, "Subscription to 2 ready replicas with a leader, webhooks wired: %s", time.Since(subscribed).Round(time.Second))
	s.checkOperatorIdentity(t)

	t.Run("operator-sdk scorecard passes every test of the bundle on this cluster", func(t *testing.T) { s.runScorecard(t) })
	t.Run("copies follow their sources in both API versions", func(t *testing.T) { s.useTheOperator(t) })
	t.Run("a crashed leader is back in seconds, a deleted one replaced, and no update is lost", func(t *testing.T) { s.failover(t, r) })
	t.Run("a stopped leader hands its lease over at once", func(t *testing.T) { s.gracefulHandover(t, r) })
	t.Run("a 1 MiB source reaches hundreds of namespaces under the memory limit", func(t *testing.T) { s.largeFanOut(t, r) })
	// The failover deletes every pod whose container it killed: of the pods left, only the one stopped restarted.
	t.Run("no container restarted but the one the test stopped, none OOM-killed", func(t *testing.T) {
		total := int32(0)
		for _, n := range r.restarts() {
			total += n
		}
		assert.Equal(t, int32(1), total, "restarts: %v", r.restarts())
		assert.Empty(t, r.oomKills())
	})
	t.Run("uninstall leaves nothing running and copies follow the deletion policy", func(t *testing.T) { s.uninstall(t, r) })
}

// report prints one line of the end-to-end report.
func report(t *testing.T, format string, args ...any) {
	t.Helper()
	line := "e2e report: " + fmt.Sprintf(format, args...)
	t.Log(line)
	fmt.Println(line)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// waitForReplicas waits until n operator pods run, one holds the lease and the kubelet's readiness probe passes on
// every one.
func (s *stack) waitForReplicas(t *testing.T, r *pods, n int) {
	t.Helper()
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d ready replicas and a leader", n), func() (bool, string) {
		pods := r.running()
		if len(pods) != n {
			return false, fmt.Sprintf("%d running: %v", len(pods), pods)
		}
		for _, pod := range pods {
			if !r.ready(pod) {
				return false, pod + " not ready"
			}
		}
		leader, _ := s.leaderIn(t, r.namespace)
		return leader != "", "no leader yet"
	})
}

// checkBundleUnpackedFromItsImage checks that OLM got the bundle by running its unpack Job on the node: the bundle
// image named by digest in catalog/ pulled and copied out, the Job complete.
func (s *stack) checkBundleUnpackedFromItsImage(t *testing.T) {
	t.Helper()
	jobs := &batchv1.JobList{}
	require.NoError(t, s.k8s.List(context.Background(), jobs, client.InNamespace("olm")))
	var unpacked []string
	for _, job := range jobs.Items {
		for _, c := range job.Spec.Template.Spec.InitContainers {
			if strings.HasPrefix(c.Image, bundleRepository+"@sha256:") && job.Status.Succeeded > 0 {
				unpacked = append(unpacked, c.Image)
			}
		}
	}
	assert.Len(t, unpacked, 1, "one bundle image unpacked by a completed Job")
}

// checkOperatorIdentity checks the operator runs as the ServiceAccount OLM created, with the CSV's permissions and
// no more: it may not read Secrets cluster-wide through another identity, nor escalate.
func (s *stack) checkOperatorIdentity(t *testing.T) {
	t.Helper()
	sa := &corev1.ServiceAccount{}
	require.NoError(t, s.k8s.Get(context.Background(), client.ObjectKey{Namespace: operatorNamespace, Name: deploymentName}, sa),
		"OLM creates the CSV's ServiceAccount")
	bindings := &rbacv1.ClusterRoleBindingList{}
	require.NoError(t, s.k8s.List(context.Background(), bindings))
	for _, b := range bindings.Items {
		for _, subject := range b.Subjects {
			if subject.Kind == "ServiceAccount" && subject.Name == deploymentName {
				assert.NotEqual(t, "cluster-admin", b.RoleRef.Name, "the operator must not be bound to cluster-admin")
			}
		}
	}
}

// namespaces creates namespaces for a scenario.
func (s *stack) namespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	}
}

// copyOf returns the data of object kind (ConfigMap or Secret) ns/name as strings, its UID, and whether it exists.
func (s *stack) copyOf(kind, ns, name string) (map[string]string, string, bool) {
	key := client.ObjectKey{Namespace: ns, Name: name}
	data := map[string]string{}
	if kind == "Secret" {
		secret := &corev1.Secret{}
		if err := s.k8s.Get(context.Background(), key, secret); err != nil {
			return nil, "", false
		}
		for k, v := range secret.Data {
			data[k] = string(v)
		}
		return data, string(secret.UID), true
	}
	cm := &corev1.ConfigMap{}
	if err := s.k8s.Get(context.Background(), key, cm); err != nil {
		return nil, "", false
	}
	for k, v := range cm.Data {
		data[k] = v
	}
	return data, string(cm.UID), true
}

// waitForCopies waits until every namespace holds kind/name with exactly want (nil: no such object).
func (s *stack) waitForCopies(t *testing.T, kind, name string, namespaces []string, want map[string]string) time.Duration {
	t.Helper()
	return waitFor(t, time.Minute, fmt.Sprintf("%s %s in %v", kind, name, namespaces), func() (bool, string) {
		for _, ns := range namespaces {
			got, _, ok := s.copyOf(kind, ns, name)
			if want == nil && ok {
				return false, ns + " still has it"
			}
			if want != nil && (!ok || !equalMaps(got, want)) {
				return false, fmt.Sprintf("%s: exists=%v keys=%d", ns, ok, len(got))
			}
		}
		return true, ""
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// waitReady waits until the v1 ConfigMapSync is Ready for its current generation.
func (s *stack) waitReady(t *testing.T, ns, name string) *syncv1.ConfigMapSync {
	t.Helper()
	cms := &syncv1.ConfigMapSync{}
	waitFor(t, time.Minute, "ConfigMapSync "+ns+"/"+name+" Ready", func() (bool, string) {
		if err := s.k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, cms); err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(cms.Status.Conditions, syncv1.ReadyCondition) &&
			cms.Status.ObservedGeneration == cms.Generation, fmt.Sprintf("%+v", cms.Status.Conditions)
	})
	return cms
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
}

// useTheOperator creates ConfigMapSyncs in v1beta1 and v1 and a ManagedSecret, and follows sources, conflicts
// and deletion.
func (s *stack) useTheOperator(t *testing.T) {
	ctx := context.Background()
	s.namespaces(t, "app", "team-a", "team-b")
	settings := map[string]string{"log-level": "info", "max-connections": "100"}
	s.apply(t, configMap("app", "settings", settings))
	s.apply(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "db"},
		Data: map[string][]byte{"password": []byte("e2e-canary-password")}})

	// v1beta1, the seed's shape: served through the conversion webhook, defaulted by the mutating one.
	beta := &syncv1beta1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "settings-to-team-a"},
		Spec: syncv1beta1.ConfigMapSyncSpec{SourceNamespace: "app", DestinationNamespace: "team-a", ConfigMapName: "settings"}}
	require.NoError(t, s.k8s.Create(ctx, beta))
	// v1 with a Secret to two namespaces.
	secretSync := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "db-everywhere"},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Kind: syncv1.SourceKindSecret, Name: "db"},
			Destination: syncv1.Destination{Namespaces: []string{"team-a", "team-b"}},
		}}
	require.NoError(t, s.k8s.Create(ctx, secretSync))
	managed := &syncv1.ManagedSecret{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "api-token"},
		Spec: syncv1.ManagedSecretSpec{Keys: []syncv1.ManagedSecretKey{
			{Name: "token", Random: &syncv1.RandomStringGenerator{Length: 24}},
		}}}
	require.NoError(t, s.k8s.Create(ctx, managed))

	took := s.waitForCopies(t, "ConfigMap", "settings", []string{"team-a"}, settings)
	s.waitForCopies(t, "Secret", "db", []string{"team-a", "team-b"}, map[string]string{"password": "e2e-canary-password"})
	report(t, "first copy after creating a v1beta1 ConfigMapSync: %s", took.Round(100*time.Millisecond))

	// The v1beta1 object reads back defaulted in both versions.
	v1 := s.waitReady(t, "app", "settings-to-team-a")
	assert.Equal(t, "5m", v1.Spec.SyncFrequency, "defaulted by the webhook")
	assert.Equal(t, syncv1.DeletionPolicyDelete, v1.Spec.DeletionPolicy)
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKeyFromObject(beta), beta))
	assert.Equal(t, syncv1.SyncStatusSynced, beta.Status.SyncStatus, "v1beta1 status through conversion")
	s.waitReady(t, "app", "db-everywhere")

	waitFor(t, time.Minute, "the ManagedSecret's Secret", func() (bool, string) {
		data, _, ok := s.copyOf("Secret", "app", "api-token")
		return ok && len(data["token"]) == 24, fmt.Sprintf("exists=%v", ok)
	})

	// A source update reaches the copy.
	settings["log-level"] = "debug"
	require.NoError(t, s.k8s.Update(ctx, configMap("app", "settings", settings)))
	took = s.waitForCopies(t, "ConfigMap", "settings", []string{"team-a"}, settings)
	report(t, "source update to copy: %s", took.Round(100*time.Millisecond))

	// The validating webhook answers and names the field.
	bad := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "bad"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "settings"},
			Destination: syncv1.Destination{Namespaces: []string{"team-a"}}, SyncFrequency: "often"}}
	err := s.k8s.Create(ctx, bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.syncFrequency")

	// An object the operator does not own is never overwritten: Conflict condition and a Warning event.
	s.apply(t, configMap("team-b", "settings", map[string]string{"owner": "team-b"}))
	conflicting := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "settings-to-team-b"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "settings"},
			Destination: syncv1.Destination{Namespaces: []string{"team-b"}}}}
	require.NoError(t, s.k8s.Create(ctx, conflicting))
	waitFor(t, time.Minute, "a Conflict event", func() (bool, string) {
		events := &eventsv1.EventList{}
		if err := s.k8s.List(ctx, events, client.InNamespace("app")); err != nil {
			return false, err.Error()
		}
		for _, e := range events.Items {
			if e.Regarding.Name == conflicting.Name && e.Reason == syncv1.ReasonConflict && e.Type == corev1.EventTypeWarning {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(events.Items))
	})
	got, _, _ := s.copyOf("ConfigMap", "team-b", "settings")
	assert.Equal(t, map[string]string{"owner": "team-b"}, got, "the user's ConfigMap is untouched")
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKeyFromObject(conflicting), conflicting))
	assert.Equal(t, syncv1.ReasonConflict, meta.FindStatusCondition(conflicting.Status.Conditions, syncv1.ReadyCondition).Reason)
	require.NoError(t, s.k8s.Delete(ctx, conflicting))

	// Deleting a ConfigMapSync removes every copy (deletionPolicy Delete).
	require.NoError(t, s.k8s.Delete(ctx, secretSync))
	s.waitForCopies(t, "Secret", "db", []string{"team-a", "team-b"}, nil)
	waitFor(t, time.Minute, "the ConfigMapSync to go", func() (bool, string) {
		err := s.k8s.Get(ctx, client.ObjectKeyFromObject(secretSync), &syncv1.ConfigMapSync{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// crashRounds is how many times the failover kills the leader's container, and deletes the leader's pod.
const crashRounds = 5

// failover crashes the leader while the source changes every 200 ms, crashRounds times each way, and measures the
// time to the next sync, with failoverLoadSyncs ConfigMapSyncs and their copies present. A container kill (SIGKILL: an OOM kill, a panic) leaves the pod: the kubelet restarts the
// container and the new process, the pod's identity, renews its own Lease at once. A pod deletion stops the
// process (it releases the Lease) and the other replica takes over; the Deployment replaces the pod. Rounds
// alternate a kill and a deletion of the same leader pod, so every kill hits a container never restarted before:
// the kubelet's restart backoff is clear only for a container's first restart within ten minutes.
func (s *stack) failover(t *testing.T, r *pods) {
	ctx := context.Background()
	destinations := []string{"ha-1", "ha-2", "ha-3"}
	s.namespaces(t, append([]string{"ha"}, destinations...)...)
	s.apply(t, configMap("ha", "counter", map[string]string{"n": "0"}))
	require.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "ha", Name: "counter"},
		Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "counter"},
			Destination: syncv1.Destination{Namespaces: destinations}}}))
	s.waitForCopies(t, "ConfigMap", "counter", destinations, map[string]string{"n": "0"})
	// A restarted leader must act on a warm view of a cluster with some state, not an empty one.
	defer s.failoverLoad(t)()

	// Updates keep flowing, one every 200 ms, throughout the failover.
	var written atomic.Int64
	stop := make(chan struct{})
	updaterDone := make(chan struct{})
	stopUpdates := sync.OnceFunc(func() { close(stop); <-updaterDone })
	t.Cleanup(stopUpdates) // Also when an assertion ends the test early: the updater must not outlive it.
	go func() {
		defer close(updaterDone)
		for n := int64(1); ; n++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			if err := s.k8s.Update(ctx, configMap("ha", "counter", map[string]string{"n": strconv.FormatInt(n, 10)})); err != nil {
				t.Errorf("updating the source: %v", err)
				return
			}
			written.Store(n)
		}
	}()
	// nextSync waits until every copy holds an update made after now, and returns how long that took.
	nextSync := func(what string, leaseDuration time.Duration) time.Duration {
		after := written.Load() + 1
		return waitFor(t, leaseDuration+30*time.Second, "a sync after "+what, func() (bool, string) {
			for _, ns := range destinations {
				data, _, _ := s.copyOf("ConfigMap", ns, "counter")
				if n, _ := strconv.ParseInt(data["n"], 10, 64); n < after {
					return false, fmt.Sprintf("%s at %d, want ≥ %d", ns, n, after)
				}
			}
			return true, ""
		})
	}

	kills, deletions := make([]time.Duration, 0, crashRounds), make([]time.Duration, 0, crashRounds)
	var leaseDuration time.Duration
	for round := range crashRounds {
		leader, lease := s.leader(t)
		require.NotEmpty(t, leader)
		leaseDuration = time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
		restarts := r.restarts()[leader+"/manager"]
		require.Zero(t, restarts, "the leader %s's container was never restarted: its restart backoff is clear", leader)

		r.signal(t, leader, syscall.SIGKILL)
		if round == 0 {
			s.webhooksAnswerWithAReplicaDown(t)
		}
		kills = append(kills, nextSync("the leader's container was killed", leaseDuration))
		now, renewed := s.leader(t)
		assert.Equal(t, leader, now, "the restarted container of the same pod leads again")
		assert.Equal(t, *lease.Spec.LeaseTransitions, *renewed.Spec.LeaseTransitions, "no other replica held the Lease meanwhile")
		r.waitRestarted(t, leader, restarts)

		require.NoError(t, s.k8s.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: leader}}))
		deletions = append(deletions, nextSync("the leader's pod was deleted", leaseDuration))
		now, _ = s.leader(t)
		assert.NotEqual(t, leader, now, "the other replica took over")
		report(t, "failover round %d: container kill → next sync %s; pod deletion → next sync %s",
			round+1, kills[round].Round(100*time.Millisecond), deletions[round].Round(100*time.Millisecond))
		waitFor(t, 2*time.Minute, leader+" gone", func() (bool, string) { return !slices.Contains(r.running(), leader), "" })
		s.waitForReplicas(t, r, 2) // The Deployment's replacement pod.
	}
	// Reported, not asserted (timings belong to reports).
	killMedian, killMax := medianAndMax(kills)
	deletionMedian, deletionMax := medianAndMax(deletions)
	limit := leaseDuration + 2*time.Second
	report(t, "leader container SIGKILL → next sync, %d kills of containers with a clear restart backoff: median %s "+
		"(target ≤ 5s: %s), max %s (target ≤ lease %s + 2s: %s)", len(kills), killMedian.Round(100*time.Millisecond),
		met(killMedian <= 5*time.Second), killMax.Round(100*time.Millisecond), leaseDuration, met(killMax <= limit))
	report(t, "leader pod deletion → next sync, %d deletions: median %s, max %s (target ≤ lease + 2s: %s)",
		len(deletions), deletionMedian.Round(100*time.Millisecond), deletionMax.Round(100*time.Millisecond),
		met(deletionMax <= limit))

	stopUpdates()
	final := map[string]string{"n": strconv.FormatInt(written.Load(), 10)}
	s.waitForCopies(t, "ConfigMap", "counter", destinations, final)
	report(t, "%d source updates during the failover, every copy at the last one", written.Load())
}

// failoverLoadSyncs ConfigMapSyncs of failoverLoadFanOut copies each are present during the failover.
const failoverLoadSyncs, failoverLoadFanOut = 1000, 5

// failoverLoad creates failoverLoadSyncs ConfigMapSyncs of failoverLoadFanOut copies each and waits for every copy;
// the function it returns deletes them and waits until they and their copies are gone.
func (s *stack) failoverLoad(t *testing.T) func() {
	t.Helper()
	ctx := context.Background()
	destinations := make([]string, failoverLoadFanOut)
	for i := range destinations {
		destinations[i] = fmt.Sprintf("ha-load-%d", i)
	}
	s.namespaces(t, append([]string{"ha-load"}, destinations...)...)
	s.apply(t, configMap("ha-load", "shared", map[string]string{"setting": "on"}))
	start := time.Now()
	names := make(chan int)
	var workers sync.WaitGroup
	for range 16 {
		workers.Go(func() {
			for i := range names {
				assert.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{
					ObjectMeta: metav1.ObjectMeta{Namespace: "ha-load", Name: fmt.Sprintf("load-%d", i)},
					Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: "shared"},
						Destination: syncv1.Destination{Namespaces: destinations, Name: fmt.Sprintf("load-%d", i)}}}))
			}
		})
	}
	for i := range failoverLoadSyncs {
		names <- i
	}
	close(names)
	workers.Wait()
	copies := func() int {
		n := 0
		for _, ns := range destinations {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMapList"))
			if err := s.k8s.List(ctx, list, client.InNamespace(ns), client.HasLabels{syncv1.OwnerUIDLabel}); err == nil {
				n += len(list.Items)
			}
		}
		return n
	}
	waitFor(t, 5*time.Minute, "the load's copies", func() (bool, string) {
		n := copies()
		return n == failoverLoadSyncs*failoverLoadFanOut, fmt.Sprintf("%d copies", n)
	})
	report(t, "failover load: %d ConfigMapSyncs and %d copies in %s", failoverLoadSyncs,
		failoverLoadSyncs*failoverLoadFanOut, time.Since(start).Round(time.Second))
	return func() {
		require.NoError(t, s.k8s.DeleteAllOf(ctx, &syncv1.ConfigMapSync{}, client.InNamespace("ha-load")))
		waitFor(t, 5*time.Minute, "the load's ConfigMapSyncs and copies to go", func() (bool, string) {
			list := &syncv1.ConfigMapSyncList{}
			err := s.k8s.List(ctx, list, client.InNamespace("ha-load"))
			n := copies()
			return err == nil && len(list.Items) == 0 && n == 0, fmt.Sprintf("%d ConfigMapSyncs, %d copies", len(list.Items), n)
		})
	}
}

// webhooksAnswerWithAReplicaDown creates a v1beta1 object (converted and admitted by the webhooks) just after a
// replica was killed. kube-proxy's Service has the other replica, but until the kubelet sees the container gone and
// the pod leaves the Service's endpoints, a call can still land on the killed replica (refused) or on a connection
// the API server kept open to it (broken); the API server does not retry those, so this retries transport failures
// only, and reports how long they lasted.
func (s *stack) webhooksAnswerWithAReplicaDown(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	beta := &syncv1beta1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "ha", Name: "created-during-failover"},
		Spec: syncv1beta1.ConfigMapSyncSpec{SourceNamespace: "ha", DestinationNamespace: "ha-1", ConfigMapName: "missing"}}
	var err error
	killed := time.Now()
	for attempt := 0; time.Since(killed) < 30*time.Second; attempt++ {
		err = s.k8s.Create(ctx, beta.DeepCopy())
		if attempt > 0 && apierrors.IsAlreadyExists(err) {
			// An earlier attempt was stored and only its answer failed (converting the stored object back).
			err = nil
		}
		if err == nil || !brokenConnection(err) {
			break
		}
		t.Logf("webhook call reached the killed replica: %v; retrying", err)
		time.Sleep(200 * time.Millisecond)
	}
	report(t, "webhook calls reaching the killed replica (until its pod left the Service): %s",
		time.Since(killed).Round(100*time.Millisecond))
	require.NoError(t, err, "webhooks answer while the leader is down")
}

// medianAndMax returns the median and the largest of ds.
func medianAndMax(ds []time.Duration) (time.Duration, time.Duration) {
	sorted := slices.Sorted(slices.Values(ds))
	return sorted[len(sorted)/2], sorted[len(sorted)-1]
}

// brokenConnection reports whether err is a webhook call that reached a replica that is gone: refused, or on a
// connection the peer had closed.
func brokenConnection(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "broken pipe") || strings.Contains(msg, "connection reset by peer") ||
		strings.Contains(msg, "EOF") || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "use of closed network connection")
}

// gracefulHandover stops the leader with SIGTERM: it releases the lease, so the other replica takes over without
// waiting for the lease to expire.
func (s *stack) gracefulHandover(t *testing.T, r *pods) {
	leader, before := s.leader(t)
	require.NotEmpty(t, leader)
	leaseDuration := time.Duration(*before.Spec.LeaseDurationSeconds) * time.Second
	lastRenew := before.Spec.RenewTime.Time
	restarts := r.restarts()[leader+"/manager"]
	r.signal(t, leader, syscall.SIGTERM)
	handover := waitFor(t, leaseDuration+30*time.Second, "another leader", func() (bool, string) {
		now, _ := s.leader(t)
		return now != "" && now != leader, "leader: " + now
	})
	_, after := s.leader(t)
	// Taken over before the old lease could have expired: only a released lease allows that.
	assert.True(t, after.Spec.AcquireTime.Time.Before(lastRenew.Add(leaseDuration)),
		"acquired at %s, the old lease ran until %s", after.Spec.AcquireTime, lastRenew.Add(leaseDuration))
	report(t, "SIGTERM of the leader to a new leader: %s (lease released; expiry would take up to %s)",
		handover.Round(100*time.Millisecond), leaseDuration)
	r.waitRestarted(t, leader, restarts) // The kubelet restarts the stopped container.
	s.waitForReplicas(t, r, 2)
}

// uninstall deletes the CRs, then the Subscription and the CSV, as OLM documents, and checks what is left.
func (s *stack) uninstall(t *testing.T, r *pods) {
	ctx := context.Background()
	s.namespaces(t, "bye", "bye-1")
	s.apply(t, configMap("bye", "kept", map[string]string{"a": "1"}))
	s.apply(t, configMap("bye", "removed", map[string]string{"b": "2"}))
	for name, policy := range map[string]syncv1.DeletionPolicy{"kept": syncv1.DeletionPolicyOrphan, "removed": syncv1.DeletionPolicyDelete} {
		require.NoError(t, s.k8s.Create(ctx, &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "bye", Name: name},
			Spec: syncv1.ConfigMapSyncSpec{Source: syncv1.SourceReference{Name: name}, DeletionPolicy: policy,
				Destination: syncv1.Destination{Namespaces: []string{"bye-1"}}}}))
	}
	s.waitForCopies(t, "ConfigMap", "kept", []string{"bye-1"}, map[string]string{"a": "1"})
	s.waitForCopies(t, "ConfigMap", "removed", []string{"bye-1"}, map[string]string{"b": "2"})

	// First the custom resources, while the operator runs to honour their deletion policies.
	require.NoError(t, s.k8s.DeleteAllOf(ctx, &syncv1.ConfigMapSync{}, client.InNamespace("bye")))
	waitFor(t, time.Minute, "the ConfigMapSyncs to go", func() (bool, string) {
		list := &syncv1.ConfigMapSyncList{}
		err := s.k8s.List(ctx, list, client.InNamespace("bye"))
		return err == nil && len(list.Items) == 0, fmt.Sprint(err)
	})
	s.waitForCopies(t, "ConfigMap", "removed", []string{"bye-1"}, nil)
	kept := &corev1.ConfigMap{}
	require.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Namespace: "bye-1", Name: "kept"}, kept), "Orphan keeps the copy")
	assert.NotContains(t, kept.Labels, syncv1.OwnerUIDLabel, "the orphaned copy is released")

	// Then the Subscription and the CSV.
	removed := time.Now()
	sub := olmObject("Subscription")
	sub.SetNamespace(operatorNamespace)
	sub.SetName(packageName)
	require.NoError(t, s.k8s.Delete(ctx, sub))
	csv := olmObject("ClusterServiceVersion")
	csv.SetNamespace(operatorNamespace)
	csv.SetName(csvName(currentVersion))
	require.NoError(t, s.k8s.Delete(ctx, csv))

	waitFor(t, 2*time.Minute, "the operator to be gone", func() (bool, string) {
		if n := len(managerProcesses("kubepods")); n > 0 {
			return false, fmt.Sprintf("%d manager processes on the node", n)
		}
		err := s.k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: deploymentName}, &appsv1.Deployment{})
		if !apierrors.IsNotFound(err) {
			return false, "Deployment: " + fmt.Sprint(err)
		}
		pods := &corev1.PodList{}
		if err := s.k8s.List(ctx, pods, client.InNamespace(operatorNamespace)); err != nil || len(pods.Items) > 0 {
			return false, fmt.Sprintf("%d pods", len(pods.Items))
		}
		for _, list := range []client.ObjectList{&admissionregistrationv1.ValidatingWebhookConfigurationList{},
			&admissionregistrationv1.MutatingWebhookConfigurationList{}} {
			if err := s.k8s.List(ctx, list); err != nil || meta.LenList(list) > 0 {
				return false, fmt.Sprintf("%T: %d left", list, meta.LenList(list))
			}
		}
		return true, ""
	})
	report(t, "Subscription and CSV deletion to nothing of the operator running: %s", time.Since(removed).Round(time.Second))
	// OLM keeps the CRDs (and so users' data); their copies stay as the deletion policies left them.
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	assert.NoError(t, s.k8s.Get(ctx, client.ObjectKey{Name: "configmapsyncs.sync.configmapsync.io"}, crd))
	_, _, ok := s.copyOf("ConfigMap", "bye-1", "kept")
	assert.True(t, ok, "the orphaned copy outlives the operator")
	assert.Empty(t, r.running())
}
