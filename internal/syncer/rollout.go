package syncer

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// WorkloadKinds are the apps/v1 kinds whose pods are restarted by changing their pod template.
var WorkloadKinds = []string{"Deployment", "StatefulSet", "DaemonSet"}

// rolloutAnnotationPrefix prefixes the pod-template annotation, one per copy used, whose change restarts pods.
const rolloutAnnotationPrefix = "rollout.sync.configmapsync.io/"

// Usage says how a pod uses a copy.
type Usage struct {
	// Env: through env valueFrom or envFrom; the values are read once, at container start.
	Env bool
	// SubPath: a volume mount with subPath; the kubelet never updates those files.
	SubPath bool
	// Volume: a plain volume mount, which the kubelet updates in place within a minute or so.
	Volume bool
}

// NeedsRestart reports whether a pod using a copy this way must restart to see new content.
func (u Usage) NeedsRestart(restartVolumes bool) bool {
	return u.Env || u.SubPath || (u.Volume && restartVolumes)
}

// UsageOf returns how spec uses the ConfigMap or Secret (kind) called name.
func UsageOf(spec *corev1.PodSpec, kind, name string) Usage {
	var u Usage
	volumes := map[string]bool{}
	for _, v := range spec.Volumes {
		if volumeUses(v.VolumeSource, kind, name) {
			volumes[v.Name] = true
		}
	}
	containers := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		u.Env = u.Env || envUses(c, kind, name)
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				continue
			}
			if m.SubPath != "" || m.SubPathExpr != "" {
				u.SubPath = true
			} else {
				u.Volume = true
			}
		}
	}
	return u
}

func volumeUses(v corev1.VolumeSource, kind, name string) bool {
	switch {
	case kind == KindConfigMap && v.ConfigMap != nil:
		return v.ConfigMap.Name == name
	case kind == KindSecret && v.Secret != nil:
		return v.Secret.SecretName == name
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			if (kind == KindConfigMap && s.ConfigMap != nil && s.ConfigMap.Name == name) ||
				(kind == KindSecret && s.Secret != nil && s.Secret.Name == name) {
				return true
			}
		}
	}
	return false
}

func envUses(c corev1.Container, kind, name string) bool {
	for _, e := range c.EnvFrom {
		if (kind == KindConfigMap && e.ConfigMapRef != nil && e.ConfigMapRef.Name == name) ||
			(kind == KindSecret && e.SecretRef != nil && e.SecretRef.Name == name) {
			return true
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if (kind == KindConfigMap && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name) ||
			(kind == KindSecret && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name) {
			return true
		}
	}
	return false
}

// RolloutAnnotation returns the pod-template annotation that records which content of the copy (kind, name) a
// workload's pods were started with.
func RolloutAnnotation(kind, name string) string {
	suffix := strings.ToLower(kind) + "-" + name
	if len(suffix) > 63 {
		sum := sha256.Sum256([]byte(suffix))
		suffix = strings.ToLower(kind) + "-" + hex.EncodeToString(sum[:12])
	}
	return rolloutAnnotationPrefix + suffix
}

// RolloutToken returns the value of RolloutAnnotation for a copy's content. It is derived from the copy's UID and
// content hash, so it is stable across operator restarts and leader changes (no restart without a change), yet
// says nothing about the data to someone who can read the workload but not the copy.
func RolloutToken(copyUID types.UID, contentHash string) string {
	sum := sha256.Sum256([]byte(string(copyUID) + "/" + contentHash))
	return hex.EncodeToString(sum[:10])
}
