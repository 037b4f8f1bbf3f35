package syncer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

func TestUsagesOf_FindsEveryReferenceAndHowItIsUsed(t *testing.T) {
	spec := &corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "plain", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
			{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
			{Name: "both", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ca"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}},
			}}}},
			{Name: "unused", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "unmounted"}}}},
		},
		InitContainers: []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-secret"}}}}}},
		Containers: []corev1.Container{{
			Name: "app",
			Env: []corev1.EnvVar{
				{Name: "A", Value: "literal"},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "flags"}, Key: "b"}}},
				{Name: "C", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "plain", MountPath: "/etc/settings"},
				{Name: "tls", MountPath: "/etc/tls/tls.crt", SubPath: "tls.crt"},
				{Name: "both", MountPath: "/etc/both"},
			},
		}},
	}
	assert.Equal(t, map[ObjectRef]Usage{
		{KindConfigMap, "settings"}: {Volume: true},
		{KindSecret, "tls"}:         {SubPath: true},
		{KindConfigMap, "ca"}:       {Volume: true},
		{KindSecret, "db"}:          {Env: true, Volume: true},
		{KindSecret, "init-secret"}: {Env: true},
		{KindConfigMap, "flags"}:    {Env: true},
	}, UsagesOf(spec))
	assert.Equal(t, Usage{Env: true, Volume: true}, UsageOf(spec, KindSecret, "db"))
	assert.Equal(t, Usage{}, UsageOf(spec, KindConfigMap, "db"), "a Secret's name says nothing of a ConfigMap's")
	assert.Equal(t, Usage{}, UsageOf(spec, KindConfigMap, "unmounted"), "a volume no container mounts is not used")
}

func TestRestartOwed(t *testing.T) {
	change := time.Date(2026, 12, 7, 12, 0, 10, 0, time.UTC)
	changed := CopyVersion{Token: "new", ChangedAt: change}
	before, after := change.Add(-time.Hour), change.Add(2*time.Second)
	cases := []struct {
		name string
		w    WorkloadState
		c    CopyVersion
		want bool
	}{
		{"restarted for this content", WorkloadState{Token: "new", Created: before}, changed, false},
		{"restarted for older content, before the change", WorkloadState{Token: "old", Created: before, LastRollout: before}, changed, true},
		{"never restarted, existed at the change", WorkloadState{Created: before}, changed, true},
		{"never restarted, created after the change", WorkloadState{Created: after}, changed, false},
		{"created in the second of the change: a tie owes", WorkloadState{Created: change.Add(900 * time.Millisecond)}, changed, true},
		{"created in the next second: the write may still be in flight", WorkloadState{Created: change.Add(1900 * time.Millisecond)}, changed, true},
		{"restarted by the operator (for another copy) after the change", WorkloadState{Token: "old", Created: before, LastRollout: after}, changed, false},
		{"restarted by the operator in the second of the change", WorkloadState{Token: "old", Created: before, LastRollout: change}, changed, true},
		{"restarted by the operator in the next second", WorkloadState{Token: "old", Created: before, LastRollout: change.Add(time.Second)}, changed, true},
		{"content never changed by the operator", WorkloadState{Token: "old", Created: before}, CopyVersion{Token: "new"}, false},
		{"never changed, never restarted", WorkloadState{Created: before}, CopyVersion{Token: "new"}, false},
		{"legacy pending restart, older token", WorkloadState{Token: "old", Created: before}, CopyVersion{Token: "new", Legacy: true}, true},
		{"legacy pending restart, never restarted", WorkloadState{Created: before}, CopyVersion{Token: "new", Legacy: true}, true},
		{"legacy pending restart already made", WorkloadState{Token: "new", Created: before}, CopyVersion{Token: "new", Legacy: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, RestartOwed(tc.w, tc.c))
		})
	}
}

func TestContentChangedAt_RoundTripsToTheSecondAndIgnoresGarbage(t *testing.T) {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"other": "kept"}}}
	assert.True(t, ContentChangedAt(obj).IsZero())

	at := time.Date(2026, 12, 7, 12, 0, 10, 500, time.FixedZone("CET", 3600))
	SetContentChangedAt(obj, at)
	assert.Equal(t, "2026-12-07T11:00:10Z", obj.Annotations[syncv1.ContentChangedAnnotation])
	assert.True(t, ContentChangedAt(obj).Equal(at.Truncate(time.Second)))
	assert.Equal(t, "kept", obj.Annotations["other"])

	SetContentChangedAt(obj, time.Time{})
	assert.NotContains(t, obj.Annotations, syncv1.ContentChangedAnnotation)

	obj.Annotations[syncv1.ContentChangedAnnotation] = "yesterday"
	assert.True(t, ContentChangedAt(obj).IsZero())
}

func TestIsRolloutAnnotation(t *testing.T) {
	assert.True(t, IsRolloutAnnotation(RolloutAnnotation(KindSecret, "db")))
	assert.False(t, IsRolloutAnnotation(syncv1.LastRolloutAnnotation))
}
