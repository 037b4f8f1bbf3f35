package syncer

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
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

// ObjectRef names a ConfigMap or Secret a pod spec refers to.
type ObjectRef struct {
	Kind, Name string
}

// UsageOf returns how spec uses the ConfigMap or Secret (kind) called name.
func UsageOf(spec *corev1.PodSpec, kind, name string) Usage {
	return UsagesOf(spec)[ObjectRef{Kind: kind, Name: name}]
}

// UsagesOf returns how spec uses every ConfigMap and Secret it refers to, by reference: what the rollout engine
// keeps of a workload's pod template, so that a template read once answers for every copy it might use.
func UsagesOf(spec *corev1.PodSpec) map[ObjectRef]Usage {
	out := map[ObjectRef]Usage{}
	volumes := map[string][]ObjectRef{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = volumeRefs(v.VolumeSource)
	}
	containers := append(append([]corev1.Container(nil), spec.InitContainers...), spec.Containers...)
	for _, c := range containers {
		for _, ref := range envRefs(c) {
			u := out[ref]
			u.Env = true
			out[ref] = u
		}
		for _, m := range c.VolumeMounts {
			for _, ref := range volumes[m.Name] {
				u := out[ref]
				if m.SubPath != "" || m.SubPathExpr != "" {
					u.SubPath = true
				} else {
					u.Volume = true
				}
				out[ref] = u
			}
		}
	}
	return out
}

// volumeRefs returns the ConfigMaps and Secrets a volume projects.
func volumeRefs(v corev1.VolumeSource) []ObjectRef {
	var out []ObjectRef
	switch {
	case v.ConfigMap != nil:
		out = append(out, ObjectRef{Kind: KindConfigMap, Name: v.ConfigMap.Name})
	case v.Secret != nil:
		out = append(out, ObjectRef{Kind: KindSecret, Name: v.Secret.SecretName})
	case v.Projected != nil:
		for _, s := range v.Projected.Sources {
			if s.ConfigMap != nil {
				out = append(out, ObjectRef{Kind: KindConfigMap, Name: s.ConfigMap.Name})
			}
			if s.Secret != nil {
				out = append(out, ObjectRef{Kind: KindSecret, Name: s.Secret.Name})
			}
		}
	}
	return out
}

// envRefs returns the ConfigMaps and Secrets a container reads into its environment.
func envRefs(c corev1.Container) []ObjectRef {
	var out []ObjectRef
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			out = append(out, ObjectRef{Kind: KindConfigMap, Name: e.ConfigMapRef.Name})
		}
		if e.SecretRef != nil {
			out = append(out, ObjectRef{Kind: KindSecret, Name: e.SecretRef.Name})
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
			out = append(out, ObjectRef{Kind: KindConfigMap, Name: r.Name})
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil {
			out = append(out, ObjectRef{Kind: KindSecret, Name: r.Name})
		}
	}
	return out
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

// IsRolloutAnnotation reports whether a pod-template annotation is a RolloutAnnotation.
func IsRolloutAnnotation(key string) bool { return strings.HasPrefix(key, rolloutAnnotationPrefix) }

// RolloutToken returns the value of RolloutAnnotation for a copy's content. It is derived from the copy's UID and
// content hash, so it is stable across operator restarts and leader changes (no restart without a change), yet
// says nothing about the data to someone who can read the workload but not the copy.
func RolloutToken(copyUID types.UID, contentHash string) string {
	sum := sha256.Sum256([]byte(string(copyUID) + "/" + contentHash))
	return hex.EncodeToString(sum[:10])
}

// CopyVersion is the content a copy (or a ManagedSecret's Secret) holds now in its namespace, as the rollout engine
// compares workloads with it.
type CopyVersion struct {
	// Token is RolloutToken of the copy's UID and content hash.
	Token string
	// ChangedAt is when the operator last changed the copy's content (ContentChangedAnnotation); zero when it never
	// did (a copy as first written, or written by a release before the annotation existed).
	ChangedAt time.Time
	// Legacy marks a copy without ChangedAt whose restarts a release before ContentChangedAnnotation recorded as
	// debounced (status.pendingRollouts or pendingRollout): owed by token alone, so an upgrade loses none of them.
	Legacy bool
}

// WorkloadState is what the rollout engine knows of one workload, for one copy it uses.
type WorkloadState struct {
	// Token is the copy's RolloutAnnotation in the pod template: the content the operator last restarted the
	// workload for; "" when it never restarted it for this copy.
	Token string
	// Created is the workload's creationTimestamp.
	Created time.Time
	// LastRollout is when the operator last restarted the workload, for whichever copy (LastRolloutAnnotation);
	// zero when it never did.
	LastRollout time.Time
}

// RestartOwed reports whether a workload that must restart to see a copy's new content (Usage.NeedsRestart) is owed
// a restart for the content the copy holds now. The rule reads only what is recorded on the objects, so every
// reconcile, every replica and every process after a restart reaches the same answer:
//   - restarted for this very content (its token is the copy's): not owed; so no change restarts a workload twice;
//   - the copy's content was changed by the operator at ChangedAt: owed when the workload's pods may predate that
//     change, that is when the workload was created at or before ChangedAt and the operator has not restarted it
//     since (LastRollout at or before ChangedAt). A workload the operator never restarted (no token) is owed only
//     when it existed at the change: at first sight, after an upgrade or on a new leader, nothing else restarts;
//   - a copy whose content the operator never changed (first written, or written before ChangedAt was recorded)
//     owes nothing, except a Legacy copy: owed when the token differs, as the release that debounced it decided.
//
// Times are compared to the second, and only a workload created or restarted more than changeMargin after the
// change counts as later: ChangedAt is stamped just before the copy is written, so a workload restarted in between
// would start pods on the old content. At worst that is one restart too many, never one lost. Created comes from
// the API server's clock and ChangedAt from the operator's; they differ by the nodes' clock skew.
func RestartOwed(w WorkloadState, c CopyVersion) bool {
	switch {
	case w.Token == c.Token:
		return false
	case c.ChangedAt.IsZero():
		return c.Legacy
	}
	since := c.ChangedAt.Truncate(time.Second).Add(changeMargin)
	return !w.Created.Truncate(time.Second).After(since) && !w.LastRollout.Truncate(time.Second).After(since)
}

// changeMargin is how long after ChangedAt (to the second) the write of the new content may still be in flight.
const changeMargin = time.Second

// ContentChangedAt returns the time in obj's ContentChangedAnnotation; zero when it has none or it is unreadable.
func ContentChangedAt(obj client.Object) time.Time {
	t, err := time.Parse(time.RFC3339, obj.GetAnnotations()[syncv1.ContentChangedAnnotation])
	if err != nil {
		return time.Time{}
	}
	return t
}

// SetContentChangedAt records t in obj's ContentChangedAnnotation, or removes it when t is zero.
func SetContentChangedAt(obj client.Object, t time.Time) {
	annotations := maps.Clone(obj.GetAnnotations())
	if annotations == nil {
		annotations = map[string]string{}
	}
	if t.IsZero() {
		delete(annotations, syncv1.ContentChangedAnnotation)
	} else {
		annotations[syncv1.ContentChangedAnnotation] = t.UTC().Format(time.RFC3339)
	}
	obj.SetAnnotations(annotations)
}
