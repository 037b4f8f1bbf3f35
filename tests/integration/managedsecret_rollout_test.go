package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// usingSecret turns a deployment from deployment() into one that reads the Secret of the same name instead.
func usingSecret(d *appsv1.Deployment) *appsv1.Deployment {
	spec := &d.Spec.Template.Spec
	for i, c := range spec.Containers {
		for j, e := range c.EnvFrom {
			if e.ConfigMapRef != nil {
				spec.Containers[i].EnvFrom[j] = corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: e.ConfigMapRef.LocalObjectReference}}
			}
		}
	}
	for i, v := range spec.Volumes {
		if v.ConfigMap != nil {
			spec.Volumes[i].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: v.ConfigMap.Name}}
		}
	}
	return d
}

// secretRestartToken returns the rollout annotation of a Deployment's pod template for the Secret "db".
func secretRestartToken(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	return rolloutTokenOf(t, d, syncer.KindSecret, "db")
}

func TestARotatedManagedSecretRestartsTheWorkloadsThatReadItThroughTheEnvironment(t *testing.T) {
	ns := kit.NewNamespace(t, "msroll")
	envUser, volumeUser := usingSecret(deployment(ns, "env-user", "db", "env")), usingSecret(deployment(ns, "volume-user", "db", "volume"))
	kit.Create(t, envUser)
	kit.Create(t, volumeUser)
	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{Length: 24}))
	ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "5s"}
	kit.Create(t, ms)
	msReady(t, ms)
	assert.Empty(t, secretRestartToken(t, envUser), "generating the Secret restarts nothing")

	rotate := func(request string) {
		update(t, ms, func() { ms.Annotations = map[string]string{syncv1.RotateNowAnnotation: request} })
	}
	restartedForTheSecretNow := func() bool {
		s := generatedSecret(t, ms)
		return secretRestartToken(t, envUser) == syncer.RolloutToken(s.UID, syncer.HashOf(s))
	}
	rotate("first")
	require.Eventually(t, restartedForTheSecretNow, waitFor, tick)
	first := secretRestartToken(t, envUser)
	assert.Empty(t, secretRestartToken(t, volumeUser), "the kubelet updates a plain volume mount in place")

	// A second rotation inside the debounce window: the restart waits for its end, recorded in status.
	rotate("second")
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) {
		assert.Equal(c, "second", ms.Status.LastHandledRotationRequest)
		assert.True(c, ms.Status.PendingRollout)
	})
	assert.Equal(t, first, secretRestartToken(t, envUser), "no restart inside the debounce window")
	require.Eventually(t, restartedForTheSecretNow, waitFor, tick)
	harness.Eventually(t, k8s, ms, func(c *assert.CollectT, ms *syncv1.ManagedSecret) { assert.False(c, ms.Status.PendingRollout) })

	// An operator restart is not a rotation: nothing is restarted.
	before := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(envUser), before))
	stopOperator()
	startOperator(t)
	msReady(t, ms)
	time.Sleep(2 * time.Second)
	after := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(envUser), after))
	assert.Equal(t, before.ResourceVersion, after.ResourceVersion)
}

func TestTurningOnAManagedSecretRolloutNeedsTheRightToRestartTheWorkloads(t *testing.T) {
	ns := kit.NewNamespace(t, "msrights")
	user := fmt.Sprintf("carol-%d", harness.Unique())
	carol := env.AsUser(t, user)
	env.Grant(t, user, ns, syncv1.GroupVersion.Group, []string{"managedsecrets"}, "get", "create", "update", "patch")

	ms := managedSecret(ns, "db", msKey("password", &syncv1.RandomStringGenerator{Length: 24}))
	ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true}
	err := carol.Create(context.Background(), ms.DeepCopy())
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("patch deployments.apps in namespace %q", ns))
	assert.True(t, kit.Absent(t, ms))

	// Without a rollout she needs no such right; turning it on later is checked.
	ms.Spec.Rollout = nil
	require.NoError(t, carol.Create(context.Background(), ms))
	err = tryUpdateAs(carol, ms, func() { ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true} })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "may not ask the operator to restart workloads they cannot restart themselves")

	env.Grant(t, user, ns, "apps", []string{"deployments", "statefulsets", "daemonsets"}, "patch")
	require.NoError(t, tryUpdateAs(carol, ms, func() { ms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true} }))
}
