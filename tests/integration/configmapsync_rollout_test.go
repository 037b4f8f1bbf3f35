package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// deployment returns a Deployment whose one container uses the ConfigMap name as mount says: "env", "volume",
// "subPath" or "" (not at all).
func deployment(namespace, name, configMap, use string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	c := corev1.Container{Name: "app", Image: "example.com/app:1"}
	var volumes []corev1.Volume
	switch use {
	case "env":
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}
	case "volume", "subPath":
		volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: configMap}}}}}
		m := corev1.VolumeMount{Name: "config", MountPath: "/etc/app", ReadOnly: true}
		if use == "subPath" {
			m.MountPath, m.SubPath = "/etc/app/settings", "k"
		}
		c.VolumeMounts = []corev1.VolumeMount{m}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, Volumes: volumes},
			},
		},
	}
}

// restartedFor returns the rollout annotation of a Deployment's pod template for the copy "settings".
func restartedFor(t *testing.T, d *appsv1.Deployment) string {
	t.Helper()
	return rolloutTokenOf(t, d, syncer.KindConfigMap, "settings")
}

// rolloutTokenOf returns the rollout annotation of a Deployment's pod template for the ConfigMap or Secret name.
func rolloutTokenOf(t *testing.T, d *appsv1.Deployment, kind, name string) string {
	t.Helper()
	got := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(d), got))
	return got.Spec.Template.Annotations[syncer.RolloutAnnotation(kind, name)]
}

func TestWorkloadsThatCannotSeeAChangeLiveAreRestartedOnceAfterTheDebounce(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "1"})
	kit.Create(t, source)
	env, vol, sub, none := deployment(dst, "env-user", "settings", "env"), deployment(dst, "volume-user", "settings", "volume"),
		deployment(dst, "subpath-user", "settings", "subPath"), deployment(dst, "unrelated", "other", "env")
	for _, d := range []*appsv1.Deployment{env, vol, sub, none} {
		kit.Create(t, d)
	}
	cms := v1Sync(src, "rollout", "settings", dst)
	cms.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true, Debounce: "2s"}
	kit.Create(t, cms)
	kit.Ready(t, cms)
	assert.Empty(t, restartedFor(t, env), "creating a copy restarts nothing")

	update(t, source, func() { source.Data["k"] = "2" })
	require.Eventually(t, func() bool { return restartedFor(t, env) != "" }, waitFor, tick)
	require.Eventually(t, func() bool { return restartedFor(t, sub) != "" }, waitFor, tick)
	first := restartedFor(t, env)
	assert.Empty(t, restartedFor(t, vol), "the kubelet updates a plain volume mount in place")
	assert.Empty(t, restartedFor(t, none))

	// Two more changes inside the debounce window: one more restart, with the last content, at its end.
	update(t, source, func() { source.Data["k"] = "3" })
	update(t, source, func() { source.Data["k"] = "4" })
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) {
		assert.Contains(c, cms.Status.PendingRollouts, dst)
	})
	assert.Equal(t, first, restartedFor(t, env), "no restart inside the debounce window")
	cp := harness.ConfigMap(dst, "settings", nil)
	require.Eventually(t, func() bool {
		_ = k8s.Get(context.Background(), clientKey(cp), cp)
		return cp.Data["k"] == "4" && restartedFor(t, env) == syncer.RolloutToken(cp.UID, cp.Annotations[syncv1.ContentHashAnnotation])
	}, waitFor, tick)
	harness.Eventually(t, k8s, cms, func(c *assert.CollectT, cms *syncv1.ConfigMapSync) { assert.Empty(c, cms.Status.PendingRollouts) })

	// An operator restart is not a change: nothing is restarted.
	before := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(env), before))
	stopOperator()
	startOperator(t)
	time.Sleep(2 * time.Second)
	after := &appsv1.Deployment{}
	require.NoError(t, k8s.Get(context.Background(), clientKey(env), after))
	assert.Equal(t, before.ResourceVersion, after.ResourceVersion)
}

func TestAWorkloadCanOptInOnItsOwn(t *testing.T) {
	src, dst := kit.NewNamespace(t, "src"), kit.NewNamespace(t, "dst")
	source := harness.ConfigMap(src, "settings", map[string]string{"k": "1"})
	kit.Create(t, source)
	optedIn, silent := deployment(dst, "opted-in", "settings", "env"), deployment(dst, "silent", "settings", "env")
	optedIn.Annotations = map[string]string{syncv1.RolloutOptInAnnotation: "true"}
	kit.Create(t, optedIn)
	kit.Create(t, silent)
	cms := v1Sync(src, "no-rollout-spec", "settings", dst)
	kit.Create(t, cms)
	kit.Ready(t, cms)

	update(t, source, func() { source.Data["k"] = "2" })
	require.Eventually(t, func() bool { return restartedFor(t, optedIn) != "" }, waitFor, tick)
	assert.Empty(t, restartedFor(t, silent), "without spec.rollout, only workloads that opt in are restarted")
}
