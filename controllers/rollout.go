package controllers

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Watch workload metadata for the rollout opt-in, read pod templates, and patch them to restart consumers.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch;patch

// copyChange is a ConfigMap or Secret the operator wrote whose content changed in one namespace: a copy of a
// ConfigMapSync, or the Secret of a ManagedSecret.
type copyChange struct {
	namespace, kind, name string
	token                 string
}

// rollouts restarts the workloads that read a ConfigMap or Secret the operator wrote when its content changes: the
// one engine behind spec.rollout of both kinds. Who may ask for restarts is the admission webhook's to check.
type rollouts struct {
	// patcher patches workloads.
	patcher client.Client
	// reader reads workloads live: their pod templates are not cached.
	reader client.Reader
	// metadata caches workload metadata, for the opt-in annotation.
	metadata cache.Cache
}

// rollOut restarts, in one namespace, the workloads that use the changed object and cannot see its new content
// live, unless they were restarted less than the debounce window ago. It returns how long until a debounced
// restart is due (0 when none waits).
func (r rollouts) rollOut(ctx context.Context, policy syncv1.RolloutPolicy, change copyChange, now time.Time) (time.Duration, error) {
	candidates, err := r.candidates(ctx, policy.Enabled, change.namespace)
	if err != nil {
		return 0, err
	}
	debounce, err := policy.DebouncePeriod()
	if err != nil {
		return 0, syncer.InvalidSpec("%v", err)
	}
	annotation := syncer.RolloutAnnotation(change.kind, change.name)
	var wait time.Duration
	for _, key := range candidates {
		obj, template, err := r.getWorkload(ctx, key)
		if err != nil || obj == nil {
			if err != nil {
				return 0, err
			}
			continue
		}
		usage := syncer.UsageOf(&template.Spec, change.kind, change.name)
		if !usage.NeedsRestart(policy.VolumeMounts == syncv1.VolumeMountsRestart) || template.Annotations[annotation] == change.token {
			continue
		}
		if last, err := time.Parse(time.RFC3339, obj.GetAnnotations()[syncv1.LastRolloutAnnotation]); err == nil {
			if left := last.Add(debounce).Sub(now); left > 0 {
				wait = max(wait, left)
				continue
			}
		}
		if err := r.restart(ctx, obj, template, annotation, change.token, now); err != nil {
			return 0, err
		}
		logf.FromContext(ctx).Info("Restarting workload for a changed object", "workload", key.String(),
			"kind", key.kind, "object", change.kind+"/"+change.name)
	}
	return wait, nil
}

type workloadKey struct {
	kind string
	client.ObjectKey
}

func (k workloadKey) String() string { return k.kind + " " + k.ObjectKey.String() }

// candidates returns the workloads of a namespace that may need a restart: all of them when rollouts are enabled
// (minus those opting out), else only those opting in. Workload metadata comes from the metadata cache, so a
// namespace without candidates costs no API call.
func (r rollouts) candidates(ctx context.Context, enabled bool, namespace string) ([]workloadKey, error) {
	var out []workloadKey
	for _, kind := range syncer.WorkloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind + "List"))
		if err := r.metadata.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind, err)
		}
		for _, w := range list.Items {
			optIn := w.Annotations[syncv1.RolloutOptInAnnotation]
			if optIn == "true" || (enabled && optIn != "false") {
				out = append(out, workloadKey{kind: kind, ObjectKey: client.ObjectKeyFromObject(&w)})
			}
		}
	}
	return out, nil
}

// getWorkload reads a workload live and returns it with its pod template; nil when it is gone.
func (r rollouts) getWorkload(ctx context.Context, key workloadKey) (client.Object, *corev1.PodTemplateSpec, error) {
	var obj client.Object
	var template func() *corev1.PodTemplateSpec
	switch key.kind {
	case "Deployment":
		d := &appsv1.Deployment{}
		obj, template = d, func() *corev1.PodTemplateSpec { return &d.Spec.Template }
	case "StatefulSet":
		s := &appsv1.StatefulSet{}
		obj, template = s, func() *corev1.PodTemplateSpec { return &s.Spec.Template }
	default:
		d := &appsv1.DaemonSet{}
		obj, template = d, func() *corev1.PodTemplateSpec { return &d.Spec.Template }
	}
	if err := r.reader.Get(ctx, key.ObjectKey, obj); err != nil {
		return nil, nil, client.IgnoreNotFound(err)
	}
	return obj, template(), nil
}

// restart records the copy's new token in the pod template, which makes the workload controller roll its pods,
// and the time in the workload's annotations for debouncing.
func (r rollouts) restart(ctx context.Context, obj client.Object, template *corev1.PodTemplateSpec, annotation, token string, now time.Time) error {
	base := obj.DeepCopyObject().(client.Object)
	if template.Annotations == nil {
		template.Annotations = map[string]string{}
	}
	template.Annotations[annotation] = token
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[syncv1.LastRolloutAnnotation] = now.UTC().Format(time.RFC3339)
	obj.SetAnnotations(annotations)
	if err := r.patcher.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("restarting %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
