package controllers

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
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
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

// copyState is a ConfigMap or Secret the operator wrote, as it is now in its namespace: a copy of a ConfigMapSync,
// or the Secret of a ManagedSecret, that is the operator's and up to date.
type copyState struct {
	namespace, kind, name string
	version               syncer.CopyVersion
}

// copyStateOf returns the state of obj, the operator's copy of kind holding the content of hash. legacy says that
// a release before ContentChangedAnnotation recorded a debounced restart for its namespace.
func copyStateOf(obj client.Object, kind, hash string, legacy bool) copyState {
	changed := syncer.ContentChangedAt(obj)
	return copyState{namespace: obj.GetNamespace(), kind: kind, name: obj.GetName(), version: syncer.CopyVersion{
		Token: syncer.RolloutToken(obj.GetUID(), hash), ChangedAt: changed, Legacy: legacy && changed.IsZero(),
	}}
}

// rollouts restarts the workloads that read a ConfigMap or Secret the operator wrote when they have not seen its
// current content: the one engine behind spec.rollout of both kinds. Who may ask for restarts is the admission
// webhook's to check.
type rollouts struct {
	// patcher patches workloads.
	patcher client.Client
	// reader reads workloads live: their pod templates are not cached.
	reader client.Reader
	// metadata caches workload metadata: the opt-in annotation, generation and creation time.
	metadata cache.Cache
	// workloads remembers what live reads found in pod templates; nil reads every candidate that may be owed.
	workloads *workloadMemo
}

// rolloutPass is what one pass over the copies of an object found and did.
type rolloutPass struct {
	// wait is how long until the earliest debounced restart is due; 0 when none waits.
	wait time.Duration
	// pending lists, sorted, the namespaces with a debounced restart.
	pending []string
	// restarted and failed count the restarts made and those that failed.
	restarted, failed int
	// err joins the failures: reading or patching a workload, listing candidates.
	err error
}

// run restarts, for every copy, the workloads owed a restart for its current content. A failure in one workload
// or namespace does not stop the others: the failures are joined in the pass's err, for the caller to report and
// return, so the reconcile retries with backoff.
func (r rollouts) run(ctx context.Context, policy syncv1.RolloutPolicy, copies []copyState, now time.Time) rolloutPass {
	var pass rolloutPass
	debounce, err := policy.DebouncePeriod()
	if err != nil {
		pass.err = syncer.InvalidSpec("%v", err)
		return pass
	}
	var errs []error
	for _, c := range copies {
		if c.version.ChangedAt.IsZero() && !c.version.Legacy {
			continue // Nothing owed for content the operator never changed: no list, no read.
		}
		wait, err := r.rollOut(ctx, policy, debounce, c, now, &pass)
		errs = append(errs, err)
		if wait > 0 {
			pass.pending = append(pass.pending, c.namespace)
			if pass.wait == 0 || wait < pass.wait {
				pass.wait = wait
			}
		}
	}
	slices.Sort(pass.pending)
	pass.pending = slices.Compact(pass.pending)
	pass.err = errors.Join(errs...)
	return pass
}

// rollOut restarts, in the copy's namespace, the workloads that use it in a way that needs a restart and are owed
// one (syncer.RestartOwed), unless they were restarted less than debounce ago. It returns how long until a
// debounced restart is due (0 when none waits) and the failures, joined.
func (r rollouts) rollOut(ctx context.Context, policy syncv1.RolloutPolicy, debounce time.Duration, c copyState, now time.Time, pass *rolloutPass) (time.Duration, error) {
	candidates, err := r.candidates(ctx, policy.Enabled, c.namespace)
	if err != nil {
		return 0, err
	}
	ref := syncer.ObjectRef{Kind: c.kind, Name: c.name}
	annotation := syncer.RolloutAnnotation(c.kind, c.name)
	var wait time.Duration
	var errs []error
	for _, w := range candidates {
		// What the metadata cache shows decides first: a workload created after the change cannot be owed, and
		// is not read.
		if !syncer.RestartOwed(syncer.WorkloadState{Token: unknownToken, Created: w.created}, c.version) {
			continue
		}
		facts, err := r.factsOf(ctx, w)
		if err != nil {
			pass.failed++
			errs = append(errs, err)
			continue
		}
		if facts == nil {
			continue // Gone.
		}
		state := syncer.WorkloadState{Token: facts.tokens[annotation], Created: facts.created, LastRollout: facts.lastRollout}
		if !facts.uses[ref].NeedsRestart(policy.VolumeMounts == syncv1.VolumeMountsRestart) || !syncer.RestartOwed(state, c.version) {
			continue
		}
		if left := facts.lastRollout.Add(debounce).Sub(now); !facts.lastRollout.IsZero() && left > 0 {
			wait = max(wait, left)
			continue
		}
		if err := r.restart(ctx, w, annotation, c.version.Token, now); err != nil {
			pass.failed++
			errs = append(errs, err)
			continue
		}
		pass.restarted++
		logf.FromContext(ctx).Info("Restarting workload for a changed object", "workload", w.String(),
			"kind", w.kind, "object", c.kind+"/"+c.name)
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
func (r rollouts) candidates(ctx context.Context, enabled bool, namespace string) ([]workload, error) {
	var out []workload
	for _, kind := range syncer.WorkloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind(kind + "List"))
		if err := r.metadata.List(ctx, list, client.InNamespace(namespace)); err != nil {
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
func (r rollouts) factsOf(ctx context.Context, w workload) (*workloadFacts, error) {
	if facts := r.workloads.get(w.uid, w.generation); facts != nil {
		return facts, nil
	}
	obj := newWorkload(w.kind)
	if err := r.reader.Get(ctx, w.ObjectKey, obj); err != nil {
		if err = client.IgnoreNotFound(err); err != nil {
			return nil, fmt.Errorf("reading %s: %w", w, err)
		}
		return nil, nil
	}
	facts := factsFrom(obj)
	r.workloads.put(obj.GetUID(), facts)
	return facts, nil
}

// restart records the copy's token in the workload's pod template, which makes the workload controller roll its
// pods, and the time in the workload's annotations, for debouncing and for RestartOwed. A merge patch of these two
// keys alone: nothing else of the workload is sent or overwritten.
func (r rollouts) restart(ctx context.Context, w workload, annotation, token string, now time.Time) error {
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
	if err := r.patcher.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("restarting %s: %w", w, err)
	}
	r.workloads.put(obj.GetUID(), factsFrom(obj))
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

// maxRememberedWorkloads bounds workloadMemo; past it, the memo starts afresh (reads again, nothing lost).
const maxRememberedWorkloads = 20000

// workloadMemo remembers the facts of workloads by UID and generation. A workload's generation moves with every
// change of its spec, pod template included, so facts remembered for the generation the metadata cache shows are
// its template's: the rollout pass of every reconcile then costs no API call for workloads it has read once,
// whatever their number. Only the annotation LastRolloutAnnotation lives outside the spec, and the operator writes
// it together with the template. The zero value is ready to use; a nil memo remembers nothing.
type workloadMemo struct {
	mu sync.Mutex
	m  map[types.UID]*workloadFacts
}

func (m *workloadMemo) get(uid types.UID, generation int64) *workloadFacts {
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

func (m *workloadMemo) put(uid types.UID, facts *workloadFacts) {
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

// reportRolloutFailures records a Warning event on obj when restarts failed in a pass.
func reportRolloutFailures(rec recorder.EventRecorder, obj client.Object, pass rolloutPass) {
	if pass.err == nil {
		return
	}
	rec.Eventf(obj, nil, corev1.EventTypeWarning, syncv1.EventReasonRolloutFailed, "Rollout", "%s",
		truncate(fmt.Sprintf("Could not restart every workload owed a restart (%d failed, %d restarted); retrying with backoff: %v",
			pass.failed, pass.restarted, pass.err), maxMessage))
}
