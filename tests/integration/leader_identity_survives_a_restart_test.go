package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

// TestARestartedProcessOfTheLeaderPodRenewsItsLeaseAtOnce runs leader election as the operator does in a pod, on
// the real API server: a process of the leader's pod that died without releasing the Lease (SIGKILL, OOM) is
// followed by one with the same pod identity, which takes the still-valid Lease at once; a process of another pod
// cannot take it while it is valid.
func TestARestartedProcessOfTheLeaderPodRenewsItsLeaseAtOnce(t *testing.T) {
	ns := kit.NewNamespace(t, "leader")
	pod := func(name, uid string) string {
		env := map[string]string{operator.PodNameEnv: name, operator.PodUIDEnv: uid}
		return operator.LeaderIdentity(func(k string) string { return env[k] })
	}
	leader, other := pod("operator-7d9f-abcde", "uid-1"), pod("operator-7d9f-fghij", "uid-2")

	first := elect(t, ns, leader)
	require.Eventually(t, first.IsLeader, 10*time.Second, 50*time.Millisecond, "the first process leads")
	first.stop() // Killed: it does not release the Lease.

	restarted := elect(t, ns, leader)
	stranger := elect(t, ns, other)
	require.Eventually(t, restarted.IsLeader, 5*time.Second, 50*time.Millisecond,
		"the restarted process of the same pod takes its Lease while it is still valid (lease: a minute)")
	time.Sleep(2 * time.Second) // Several retry periods of the stranger's.
	assert.False(t, stranger.IsLeader(), "another pod waits for the Lease to expire or be released")

	lease := &coordinationv1.Lease{}
	require.NoError(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: operator.LeaderElectionID}, lease))
	assert.Equal(t, leader, *lease.Spec.HolderIdentity)
}

// elector is one process's leader election, stopped without releasing its Lease.
type elector struct {
	*leaderelection.LeaderElector
	stop context.CancelFunc
}

// elect starts leader election under identity in namespace with the operator's lock, a lease of a minute and a
// retry period of 200 ms.
func elect(t *testing.T, namespace, identity string) elector {
	t.Helper()
	lock, err := operator.LeaderLock(env.Config, namespace, identity, 10*time.Second)
	require.NoError(t, err)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, LeaseDuration: time.Minute, RenewDeadline: 10 * time.Second, RetryPeriod: 200 * time.Millisecond,
		Callbacks: leaderelection.LeaderCallbacks{OnStartedLeading: func(context.Context) {}, OnStoppedLeading: func() {}},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go le.Run(ctx)
	return elector{LeaderElector: le, stop: cancel}
}
