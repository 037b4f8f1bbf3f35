// Package rollout owns the restarts of workloads that read a ConfigMap or Secret the operator wrote: the one engine
// behind spec.rollout of both kinds (a ConfigMapSync's copies, a ManagedSecret's Secret). A kind hands it what it
// wrote that is the operator's and up to date (Written, WrittenOf); the engine finds the workloads that read it and
// have not seen its current content (syncer.RestartOwed), restarts them, debounced, and says what waits (Pass).
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Watch workload metadata for the rollout opt-in, read pod templates, and patch them to restart consumers.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch;patch

// The rollout engine is level-triggered: a restart owed is a fact recorded on the objects, never an event to
// remember. Each copy records when the operator last changed its content (ContentChangedAnnotation), and each
// workload the content its last restart was for (the token in its pod template) and when (LastRolloutAnnotation).
// Every reconcile compares the two for every copy that is the operator's and up to date (syncer.RestartOwed), so a
// restart that failed, was debounced, or was due when the operator stopped or lost its lease is made by the next
// reconcile, in any number of namespaces, whatever else failed; and one already made is never made again.

// Written is a ConfigMap or Secret the operator wrote, as it is now in its namespace: a copy of a ConfigMapSync,
// or the Secret of a ManagedSecret, that is the operator's and up to date.
type Written struct {
	Namespace, Kind, Name string
	// Version is the content the object holds now and when the operator last changed it.
	Version syncer.CopyVersion
}

// WrittenOf returns the state of obj, the operator's ConfigMap or Secret of kind holding the content of hash. legacy
// says that a release before ContentChangedAnnotation recorded a debounced restart for its namespace.
func WrittenOf(obj client.Object, kind, hash string, legacy bool) Written {
	changed := syncer.ContentChangedAt(obj)
	return Written{Namespace: obj.GetNamespace(), Kind: kind, Name: obj.GetName(), Version: syncer.CopyVersion{
		Token: syncer.RolloutToken(obj.GetUID(), hash), ChangedAt: changed, Legacy: legacy && changed.IsZero(),
	}}
}

// Engine restarts the workloads that read a ConfigMap or Secret the operator wrote when they have not seen its
// current content: the one engine behind spec.rollout of both kinds. Who may ask for restarts is the admission
// webhook's to check.
type Engine struct {
	// Patcher patches workloads.
	Patcher client.Client
	// Reader reads workloads live: their pod templates are not cached.
	Reader client.Reader
	// Metadata caches workload metadata: the opt-in annotation, generation and creation time.
	Metadata cache.Cache
	// Workloads remembers what live reads found in pod templates; nil reads every candidate that may be owed.
	Workloads *Memo
}

// Pass is what one pass over the copies of an object found and did.
type Pass struct {
	// Wait is how long until the earliest debounced restart is due; 0 when none waits.
	Wait time.Duration
	// Pending lists, sorted, the namespaces with a debounced restart.
	Pending []string
	// Restarted and Failed count the restarts made and those that failed.
	Restarted, Failed int
	// Err joins the failures: reading or patching a workload, listing candidates.
	Err error
}

// Run restarts, for every copy, the workloads owed a restart for its current content. A failure in one workload
// or namespace does not stop the others: the failures are joined in the pass's err, for the caller to report and
// return, so the reconcile retries with backoff.
func (r Engine) Run(ctx context.Context, policy syncv1.RolloutPolicy, copies []Written, now time.Time) Pass {
	var pass Pass
	debounce, err := policy.DebouncePeriod()
	if err != nil {
		pass.Err = syncer.InvalidSpec("%v", err)
		return pass
	}
	var errs []error
	for _, c := range copies {
		if c.Version.ChangedAt.IsZero() && !c.Version.Legacy {
			continue // Nothing owed for content the operator never changed: no list, no read.
		}
		wait, err := r.restartConsumers(ctx, policy, debounce, c, now, &pass)
		errs = append(errs, err)
		if wait > 0 {
			pass.Pending = append(pass.Pending, c.Namespace)
			if pass.Wait == 0 || wait < pass.Wait {
				pass.Wait = wait
			}
		}
	}
	slices.Sort(pass.Pending)
	pass.Pending = slices.Compact(pass.Pending)
	pass.Err = errors.Join(errs...)
	return pass
}

// restartConsumers restarts, in the copy's namespace, the workloads that use it in a way that needs a restart and are owed
// one (syncer.RestartOwed), unless they were restarted less than debounce ago. It returns how long until a
// debounced restart is due (0 when none waits) and the failures, joined.
func (r Engine) restartConsumers(ctx context.Context, policy syncv1.RolloutPolicy, debounce time.Duration, c Written, now time.Time, pass *Pass) (time.Duration, error) {
	candidates, err := r.candidates(ctx, policy.Enabled, c.Namespace)
	if err != nil {
		return 0, err
	}
	ref := syncer.ObjectRef{Kind: c.Kind, Name: c.Name}
	annotation := syncer.RolloutAnnotation(c.Kind, c.Name)
	var wait time.Duration
	var errs []error
	for _, w := range candidates {
		// What the metadata cache shows decides first: a workload created after the change cannot be owed, and
		// is not read.
		if !syncer.RestartOwed(syncer.WorkloadState{Token: unknownToken, Created: w.created}, c.Version) {
			continue
		}
		facts, err := r.factsOf(ctx, w)
		if err != nil {
			pass.Failed++
			errs = append(errs, err)
			continue
		}
		if facts == nil {
			continue // Gone.
		}
		state := syncer.WorkloadState{Token: facts.tokens[annotation], Created: facts.created, LastRollout: facts.lastRollout}
		if !facts.uses[ref].NeedsRestart(policy.VolumeMounts == syncv1.VolumeMountsRestart) || !syncer.RestartOwed(state, c.Version) {
			continue
		}
		if left := facts.lastRollout.Add(debounce).Sub(now); !facts.lastRollout.IsZero() && left > 0 {
			wait = max(wait, left)
			continue
		}
		if err := r.restart(ctx, w, annotation, c.Version.Token, now); err != nil {
			pass.Failed++
			errs = append(errs, err)
			continue
		}
		pass.Restarted++
		logf.FromContext(ctx).Info("Restarting workload for a changed object", "workload", w.String(),
			"kind", w.kind, "object", c.Kind+"/"+c.Name)
	}
	return wait, errors.Join(errs...)
}

// unknownToken stands for a pod template not read yet: no copy's token is empty, so RestartOwed answers for the
// most a workload could be owed.
const unknownToken = "?"

// workload is a candidate for restarts, as the metadata cache shows it.
type workload struct {
	kind string
	client.ObjectKey
	uid        types.UID
	generation int64
	created    time.Time
}

func (w workload) String() string { return w.kind + " " + w.ObjectKey.String() }

// candidates returns the workloads of a namespace that may need a restart: all of them when rollouts are enabled
// (minus those opting out), else only those opting in. Workload metadata comes from the metadata cache, so a
// namespace without candidates costs no API call.
func (r Engine) candidates(ctx context.Context, enabled bool, namespace string) ([]workload, error) {
	var out []workload
	for _, kind := range syncer.WorkloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind + "List"))
		if err := r.Metadata.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind, err)
		}
		for _, w := range list.Items {
			optIn := w.Annotations[syncv1.RolloutOptInAnnotation]
			if optIn == "true" || (enabled && optIn != "false") {
				out = append(out, workload{kind: kind, ObjectKey: client.ObjectKeyFromObject(&w), uid: w.UID,
					generation: w.Generation, created: w.CreationTimestamp.Time})
			}
		}
	}
	return out, nil
}

// factsOf returns what the rollout engine needs of a workload's pod template: remembered for the generation the
// metadata cache shows, else read live (and remembered). nil when the workload is gone.
func (r Engine) factsOf(ctx context.Context, w workload) (*workloadFacts, error) {
	if facts := r.Workloads.get(w.uid, w.generation); facts != nil {
		return facts, nil
	}
	obj := newWorkload(w.kind)
	if err := r.Reader.Get(ctx, w.ObjectKey, obj); err != nil {
		if err = client.IgnoreNotFound(err); err != nil {
			return nil, fmt.Errorf("reading %s: %w", w, err)
		}
		return nil, nil
	}
	facts := factsFrom(obj)
	r.Workloads.put(obj.GetUID(), facts)
	return facts, nil
}

// restart records the copy's token in the workload's pod template, which makes the workload controller roll its
// pods, and the time in the workload's annotations, for debouncing and for RestartOwed. A merge patch of these two
// keys alone: nothing else of the workload is sent or overwritten.
func (r Engine) restart(ctx context.Context, w workload, annotation, token string, now time.Time) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{syncv1.LastRolloutAnnotation: now.UTC().Format(time.RFC3339)}},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{annotation: token}}}},
	})
	if err != nil {
		return err
	}
	obj := newWorkload(w.kind)
	obj.SetNamespace(w.Namespace)
	obj.SetName(w.Name)
	if err := r.Patcher.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("restarting %s: %w", w, err)
	}
	r.Workloads.put(obj.GetUID(), factsFrom(obj))
	return nil
}

// newWorkload returns an empty workload of kind.
func newWorkload(kind string) client.Object {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	default:
		return &appsv1.DaemonSet{}
	}
}

// templateOf returns the pod template of a workload from newWorkload.
func templateOf(obj client.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.StatefulSet:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	}
	return &corev1.PodTemplateSpec{}
}

// workloadFacts is what the rollout engine keeps of one workload at one generation: which ConfigMaps and Secrets
// its pods use and how, the operator's tokens in its pod template, and its times. A few hundred bytes, where the
// pod template would be kilobytes.
type workloadFacts struct {
	generation  int64
	created     time.Time
	lastRollout time.Time
	uses        map[syncer.ObjectRef]syncer.Usage
	tokens      map[string]string
}

// factsFrom returns the facts of a workload read live or returned by a patch.
func factsFrom(obj client.Object) *workloadFacts {
	template := templateOf(obj)
	facts := &workloadFacts{
		generation: obj.GetGeneration(),
		created:    obj.GetCreationTimestamp().Time,
		uses:       syncer.UsagesOf(&template.Spec),
		tokens:     map[string]string{},
	}
	if t, err := time.Parse(time.RFC3339, obj.GetAnnotations()[syncv1.LastRolloutAnnotation]); err == nil {
		facts.lastRollout = t
	}
	for k, v := range template.Annotations {
		if syncer.IsRolloutAnnotation(k) {
			facts.tokens[k] = v
		}
	}
	return facts
}

// maxRememberedWorkloads bounds Memo; past it, the memo starts afresh (reads again, nothing lost).
const maxRememberedWorkloads = 20000

// Memo remembers the facts of workloads by UID and generation. A workload's generation moves with every
// change of its spec, pod template included, so facts remembered for the generation the metadata cache shows are
// its template's: the rollout pass of every reconcile then costs no API call for workloads it has read once,
// whatever their number. Only the annotation LastRolloutAnnotation lives outside the spec, and the operator writes
// it together with the template. The zero value is ready to use; a nil memo remembers nothing.
type Memo struct {
	mu sync.Mutex
	m  map[types.UID]*workloadFacts
}

func (m *Memo) get(uid types.UID, generation int64) *workloadFacts {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if facts := m.m[uid]; facts != nil && facts.generation == generation {
		return facts
	}
	return nil
}

func (m *Memo) put(uid types.UID, facts *workloadFacts) {
	if m == nil || uid == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxRememberedWorkloads {
		m.m = map[types.UID]*workloadFacts{}
	}
	m.m[uid] = facts
}

// ReportFailures records a Warning event on obj when restarts failed in a pass.
func ReportFailures(rec recorder.EventRecorder, obj client.Object, pass Pass) {
	if pass.Err == nil {
		return
	}
	rec.Eventf(obj, nil, corev1.EventTypeWarning, syncv1.EventReasonRolloutFailed, "Rollout", "%s",
		lifecycle.Truncate(fmt.Sprintf("Could not restart every workload owed a restart (%d failed, %d restarted); retrying with backoff: %v",
			pass.Failed, pass.Restarted, pass.Err), lifecycle.MaxMessage))
}

// JoinError joins the errors of a sync and of its rollout pass. A failed restart is worth retrying even when the
// sync failed for good: the sync's terminal error then joins without its terminal mark, so the reconcile is retried
// with backoff instead of waiting for the next change.
func JoinError(syncErr, rolloutErr error) error {
	if rolloutErr == nil {
		return syncErr
	}
	if errors.Is(rolloutErr, reconcile.TerminalError(nil)) {
		return errors.Join(syncErr, rolloutErr) // The rollout policy itself is invalid: nothing to retry.
	}
	if syncErr != nil && errors.Is(syncErr, reconcile.TerminalError(nil)) {
		if inner := errors.Unwrap(syncErr); inner != nil {
			syncErr = inner
		}
	}
	return errors.Join(syncErr, rolloutErr)
}
