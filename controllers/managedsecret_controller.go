package controllers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metawatch"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/secretgen"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// ManagedSecretReconciler generates the Secret of each ManagedSecret and rotates its generated keys. The Secret is
// the record of its own rotations (annotations next to the values), so a rotation and its bookkeeping are one
// write; status mirrors that record. No value, or anything derived from one, leaves the Secret.
type ManagedSecretReconciler struct {
	client.Client
	// APIReader reads uncached: the live Secret before every write (the cache may not have seen the operator's
	// last write yet), a Secret in the way (the manager's cache only holds the operator's own Secrets) and, at
	// deletion, the Secrets to clean up.
	APIReader client.Reader
	// Sources notifies of Secret changes by name, so that the deletion of a Secret in the way wakes the
	// ManagedSecret waiting for its name.
	Sources  *metawatch.Watches
	Recorder recorder.EventRecorder
	// Generators makes the values; nil means secretgen.Default.
	Generators *secretgen.Registry
	// Now is the clock; nil means time.Now. Unit tests set it.
	Now func() time.Time
}

// Watch ManagedSecrets and patch their finalizer; report rotation times and conditions in their status. The
// Secrets they generate are covered by the ConfigMapSync controller's rule on secrets.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets/finalizers,verbs=update

// managedSecretNameIndex indexes ManagedSecrets by the name of their Secret.
const managedSecretNameIndex = "managedsecret.spec.secretName"

// staleRetryDelay is how long to wait before planning again when the Secret changed between the live read and the
// write: whoever changed it is about to be seen by the cache.
const staleRetryDelay = time.Second

// minWakeDelay is the shortest scheduled requeue, so that a due time rounded to the second never makes a loop.
const minWakeDelay = time.Second

// SetupWithManager registers the controller and its watches: ManagedSecrets; the Secrets they generated (a Secret
// edited or deleted by hand is repaired at once); and the metadata of every Secret, mapped by name to the
// ManagedSecrets that want that name (a Secret in the way that is deleted lets the generated one be created).
func (r *ManagedSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, o Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &syncv1.ManagedSecret{}, managedSecretNameIndex,
		func(obj client.Object) []string { return []string{secretNameOf(obj.(*syncv1.ManagedSecret))} }); err != nil {
		return fmt.Errorf("indexing ManagedSecrets by Secret name: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&syncv1.ManagedSecret{}).
		Named("managedsecret").
		WithOptions(controllerOptions(o)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(managedSecretOf)).
		WatchesRawSource(r.Sources.Source(resourceOf(syncer.KindSecret), r.managedSecretsNamed)).
		Complete(r)
}

// managedSecretOf maps a generated Secret to its ManagedSecret. The generators annotation tells these Secrets from
// the copies of ConfigMapSyncs, which carry the same ownership labels.
func managedSecretOf(_ context.Context, obj client.Object) []reconcile.Request {
	if _, ok := obj.GetAnnotations()[syncv1.GeneratorsAnnotation]; !ok {
		return nil
	}
	key, ok := syncer.OwnerKey(obj)
	if !ok || key.Namespace != obj.GetNamespace() {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key}}
}

// managedSecretsNamed maps any Secret to the ManagedSecrets of its namespace that generate a Secret of its name.
func (r *ManagedSecretReconciler) managedSecretsNamed(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
	list := &syncv1.ManagedSecretList{}
	if err := r.List(ctx, list, client.InNamespace(obj.Namespace), client.MatchingFields{managedSecretNameIndex: obj.Name}); err != nil {
		logf.FromContext(ctx).Error(err, "Listing ManagedSecrets for a Secret event")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// Reconcile brings the Secret of one ManagedSecret in line with its spec and rotation schedule, or cleans it up
// when the ManagedSecret is deleted.
func (r *ManagedSecretReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	ms := &syncv1.ManagedSecret{}
	if err := r.Get(ctx, req.NamespacedName, ms); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// The finalizer goes on before the Secret exists, so that the Secret cannot outlive its ManagedSecret.
	if err := ensureFinalizer(ctx, r.Client, ms); err != nil {
		return ctrl.Result{}, err
	}

	// One status patch per reconcile, whatever path it takes, and none when nothing changed.
	before := ms.DeepCopy()
	defer patchStatus(ctx, r.Client, before, ms,
		func(o client.Object) any { return o.(*syncv1.ManagedSecret).Status },
		func() { ms.Status.ObservedGeneration = ms.Generation }, &reterr)

	if !ms.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, before, ms)
	}
	return r.reconcileNormal(ctx, before, ms)
}

// reconcileNormal writes the Secret when it differs from the plan, and schedules the next wake-up: the next
// rotation or the expiry of the ".previous" keys, whichever comes first.
func (r *ManagedSecretReconciler) reconcileNormal(ctx context.Context, before, ms *syncv1.ManagedSecret) (ctrl.Result, error) {
	out, err := r.apply(ctx, ms)
	if out.stale && err == nil {
		logf.FromContext(ctx).V(1).Info("The Secret changed while it was written; planning again", "secret", secretNameOf(ms))
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	}
	recordManagedSecretStatus(ms, out, err)
	recordManagedSecretMetrics(ms, out, err)
	r.emitManagedSecretEvents(before, ms, out)
	logManagedSecretOutcome(ctx, ms, out)
	if err != nil {
		return ctrl.Result{}, err
	}
	if out.plan == nil || out.plan.wake.IsZero() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(out.plan.wake.Sub(r.now()), minWakeDelay)}, nil
}

// secretOutcome is what one reconcile found and did.
type secretOutcome struct {
	// plan is what the Secret holds now, when it is the operator's and up to date (written or found so).
	plan *secretPlan
	// action is the write made: Create, Update, or None.
	action syncer.Action
	// conflict means a Secret of that name belongs to someone else; it was left unchanged.
	conflict bool
	// stale means the Secret changed between the live read and the write; nothing was written.
	stale bool
}

// apply plans the Secret from the cached copy and, when that calls for a write, plans again from a live read and
// writes. Planning against the live Secret means a rotation is never repeated because the cache had not seen it
// yet, and an object of someone else's, which the cache cannot see, is found before anything is written.
func (r *ManagedSecretReconciler) apply(ctx context.Context, ms *syncv1.ManagedSecret) (secretOutcome, error) {
	now := r.now()
	owner := syncer.OwnerOf(ms)
	key := types.NamespacedName{Namespace: ms.Namespace, Name: secretNameOf(ms)}

	cached := &corev1.Secret{}
	if err := r.Get(ctx, key, cached); err != nil {
		if !apierrors.IsNotFound(err) {
			return secretOutcome{}, fmt.Errorf("reading Secret %s: %w", key, err)
		}
		cached = nil
	}
	if cached != nil && !syncer.IsOwnedBy(cached, owner) {
		return secretOutcome{conflict: true}, nil
	}
	plan, err := planSecret(ms, cached, now, r.generators())
	if err != nil {
		return secretOutcome{}, err
	}
	if plan.action == syncer.ActionNone {
		return secretOutcome{plan: &plan, action: syncer.ActionNone}, nil
	}

	live := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, key, live); err != nil {
		if !apierrors.IsNotFound(err) {
			return secretOutcome{}, fmt.Errorf("reading Secret %s: %w", key, err)
		}
		live = nil
	}
	if live != nil && !syncer.IsOwnedBy(live, owner) {
		return secretOutcome{conflict: true}, nil
	}
	if plan, err = planSecret(ms, live, now, r.generators()); err != nil {
		return secretOutcome{}, err
	}
	switch plan.action {
	case syncer.ActionCreate:
		err = r.Create(ctx, plan.desired)
	case syncer.ActionUpdate:
		err = r.Update(ctx, plan.desired)
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return secretOutcome{stale: true}, nil
	}
	if err != nil {
		return secretOutcome{}, classify(fmt.Errorf("%s Secret %s: %w", strings.ToLower(string(plan.action)), key, redactInvalid(err)))
	}
	return secretOutcome{plan: &plan, action: plan.action}, nil
}

func (r *ManagedSecretReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *ManagedSecretReconciler) generators() *secretgen.Registry {
	if r.Generators != nil {
		return r.Generators
	}
	return secretgen.Default
}

// secretNameOf returns the name of the generated Secret: spec.secretName, or the ManagedSecret's own name.
func secretNameOf(ms *syncv1.ManagedSecret) string {
	if ms.Spec.SecretName != "" {
		return ms.Spec.SecretName
	}
	return ms.Name
}

// redactInvalid replaces the message of an Invalid answer with the fields and kinds of its causes: the API
// server's validation messages can quote part of a value (a Secret of type kubernetes.io/dockerconfigjson whose
// content is not JSON, say), and the message ends up in status, events and logs. The error keeps its status code
// and reason, so it is still classified as permanent.
func redactInvalid(err error) error {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsInvalid(err) {
		return err
	}
	st := se.ErrStatus
	var causes []metav1.StatusCause
	var parts []string
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			causes = append(causes, metav1.StatusCause{Type: c.Type, Field: c.Field})
			parts = append(parts, fmt.Sprintf("%s: %s", c.Field, c.Type))
		}
		details := *st.Details
		details.Causes = causes
		st.Details = &details
	}
	st.Message = "the API server rejected the Secret as invalid (details that could quote values are left out)"
	if len(parts) > 0 {
		st.Message += ": " + strings.Join(parts, "; ")
	}
	return &apierrors.StatusError{ErrStatus: st}
}

// --- the plan ----------------------------------------------------------------------------------------------------

// invalidSpecError is a spec the operator cannot act on. The schema rejects all of these; the controller checks
// them again so that an object that slipped past the schema stalls instead of doing something unexpected.
type invalidSpecError struct{ msg string }

func (e *invalidSpecError) Error() string { return e.msg }

func invalidSpec(format string, args ...any) error {
	return reconcile.TerminalError(&invalidSpecError{msg: fmt.Sprintf(format, args...)})
}

// keySpec is one key of the spec, with its generator's normalized parameters and their hash.
type keySpec struct {
	name      string
	literal   *string
	generator secretgen.Generator
	params    secretgen.Params
	hash      string
}

// secretRecord is the operator's record on a Secret it generated, kept in its annotations.
type secretRecord struct {
	lastRotation time.Time
	count        int64
	request      string
	// generators maps each generated key to the hash of its generator's parameters; nil when the Secret has no
	// readable record of them.
	generators map[string]string
}

// secretPlan is what the Secret must hold, and when the operator must look again.
type secretPlan struct {
	desired *corev1.Secret
	action  syncer.Action
	record  secretRecord
	// rotated means this plan rotates the generated keys; requested says that a rotate-now request asked for it.
	rotated, requested bool
	// generated lists the keys generated for another reason than a rotation: added, settings changed, or a value
	// that was removed or no longer has the shape its settings give. Names only.
	generated []string
	keys      int
	// nextRotation is when the next scheduled rotation is due, when there is a rotationInterval.
	nextRotation *time.Time
	// previousExpiry is when the ".previous" keys go, while the plan keeps any.
	previousExpiry *time.Time
	// wake is the earlier of nextRotation and previousExpiry; zero when neither is set.
	wake time.Time
}

// planSecret decides what the Secret of ms must hold at now, given the operator's existing Secret (nil when there
// is none). Generated values are kept unless a rotation is due or requested, their generator's parameters changed,
// or the value is missing or not of the shape those parameters give; literals always follow the spec. A rotation
// keeps each replaced value under "<key>.previous" while keepPrevious says so.
func planSecret(ms *syncv1.ManagedSecret, existing *corev1.Secret, now time.Time, gens *secretgen.Registry) (secretPlan, error) {
	specs, err := keySpecs(ms, gens)
	if err != nil {
		return secretPlan{}, err
	}
	interval, err := optionalDuration("spec.rotationInterval", ms.Spec.RotationInterval, syncv1.MinRotationInterval, syncv1.MaxRotationInterval)
	if err != nil {
		return secretPlan{}, err
	}
	keep, err := optionalDuration("spec.keepPrevious", ms.Spec.KeepPrevious, syncv1.MinKeepPrevious, syncv1.MaxKeepPrevious)
	if err != nil {
		return secretPlan{}, err
	}
	// Times are recorded to the second (RFC 3339); plan with the time as it will read back.
	now = now.UTC().Truncate(time.Second)
	request := ms.Annotations[syncv1.RotateNowAnnotation]

	var old secretRecord
	var oldData map[string][]byte
	if existing != nil {
		old, oldData = recordOf(existing), existing.Data
	}
	plan := secretPlan{keys: len(specs)}
	rec := secretRecord{lastRotation: old.lastRotation, count: old.count, request: old.request, generators: map[string]string{}}
	if existing == nil || old.lastRotation.IsZero() {
		// New values, or a Secret that lost its record: the schedule starts now, a rotate-now request already
		// there is taken as handled (the values are new anyway), and the count goes on from the status.
		rec.lastRotation = now
		rec.count = max(rec.count, ms.Status.RotationCount)
		if rec.request == "" {
			rec.request = ms.Status.LastHandledRotationRequest
		}
		if request != "" {
			rec.request = request
		}
	} else {
		plan.requested = request != "" && request != old.request
		due := interval > 0 && !now.Before(old.lastRotation.Add(interval))
		if plan.requested || due {
			plan.rotated = true
			rec.lastRotation = now
			rec.count++
		}
		if request != "" {
			rec.request = request
		}
	}

	expiry := rec.lastRotation.Add(keep)
	keepOld := keep > 0 && now.Before(expiry)
	data := make(map[string][]byte, len(specs))
	hasPrevious := false
	for _, k := range specs {
		if k.literal != nil {
			data[k.name] = []byte(*k.literal)
			continue
		}
		rec.generators[k.name] = k.hash
		current, have := oldData[k.name]
		sameSettings := old.generators == nil || old.generators[k.name] == k.hash
		valid := have && sameSettings && k.generator.Conforms(k.params, current)
		if valid && !plan.rotated {
			data[k.name] = current
		} else {
			v, err := k.generator.Generate(k.params)
			if err != nil {
				return secretPlan{}, fmt.Errorf("generating key %s: %w", k.name, err)
			}
			data[k.name] = v
			if !plan.rotated {
				plan.generated = append(plan.generated, k.name)
			}
		}
		previous := k.name + syncv1.PreviousKeySuffix
		switch {
		case plan.rotated && have && keep > 0:
			data[previous] = current
			hasPrevious = true
		case !plan.rotated && keepOld:
			if p, ok := oldData[previous]; ok {
				data[previous] = p
				hasPrevious = true
			}
		}
	}
	plan.record = rec

	if interval > 0 {
		next := rec.lastRotation.Add(interval)
		plan.nextRotation, plan.wake = &next, next
	}
	if hasPrevious {
		plan.previousExpiry = &expiry
		if plan.wake.IsZero() || expiry.Before(plan.wake) {
			plan.wake = expiry
		}
	}

	plan.desired = desiredSecret(ms, existing, data, rec)
	switch {
	case existing == nil:
		plan.action = syncer.ActionCreate
	case maps.EqualFunc(existing.Data, plan.desired.Data, bytes.Equal) &&
		maps.Equal(existing.Labels, plan.desired.Labels) && maps.Equal(existing.Annotations, plan.desired.Annotations):
		plan.action = syncer.ActionNone
	default:
		plan.action = syncer.ActionUpdate
	}
	return plan, nil
}

// keySpecs checks the keys of the spec and resolves their generators.
func keySpecs(ms *syncv1.ManagedSecret, gens *secretgen.Registry) ([]keySpec, error) {
	if len(ms.Spec.Keys) == 0 || len(ms.Spec.Keys) > syncv1.MaxManagedSecretKeys {
		return nil, invalidSpec("spec.keys must list 1 to %d keys", syncv1.MaxManagedSecretKeys)
	}
	seen := make(map[string]bool, len(ms.Spec.Keys))
	out := make([]keySpec, 0, len(ms.Spec.Keys))
	for _, k := range ms.Spec.Keys {
		if errs := validation.IsConfigMapKey(k.Name); len(errs) > 0 {
			return nil, invalidSpec("spec.keys[%s].name: %s", k.Name, strings.Join(errs, "; "))
		}
		if strings.HasSuffix(k.Name, syncv1.PreviousKeySuffix) {
			return nil, invalidSpec("spec.keys[%s].name: names ending in %s are reserved", k.Name, syncv1.PreviousKeySuffix)
		}
		if seen[k.Name] {
			return nil, invalidSpec("spec.keys[%s]: the key is listed twice", k.Name)
		}
		seen[k.Name] = true

		ks := keySpec{name: k.Name}
		var name string
		var params secretgen.Params
		sources := 0
		if k.Literal != nil {
			ks.literal, sources = k.Literal, sources+1
		}
		if g := k.Random; g != nil {
			name, params, sources = secretgen.GeneratorRandom, secretgen.Params{}, sources+1
			setParam(params, secretgen.ParamLength, g.Length)
			setParam(params, secretgen.ParamAlphabet, string(g.Alphabet))
		}
		if g := k.Bytes; g != nil {
			name, params, sources = secretgen.GeneratorBytes, secretgen.Params{}, sources+1
			setParam(params, secretgen.ParamLength, g.Length)
			setParam(params, secretgen.ParamEncoding, string(g.Encoding))
		}
		if k.UUID != nil {
			name, params, sources = secretgen.GeneratorUUID, secretgen.Params{}, sources+1
		}
		if sources != 1 {
			return nil, invalidSpec("spec.keys[%s]: exactly one of random, bytes, uuid or literal must be set", k.Name)
		}
		if name != "" {
			g, err := gens.Get(name)
			if err != nil {
				return nil, invalidSpec("spec.keys[%s]: %v", k.Name, err)
			}
			if ks.params, err = g.Normalize(params); err != nil {
				return nil, invalidSpec("spec.keys[%s].%s: %v", k.Name, name, err)
			}
			ks.generator, ks.hash = g, paramsHash(name, ks.params)
		}
		out = append(out, ks)
	}
	return out, nil
}

func setParam[T int32 | string](p secretgen.Params, name string, v T) {
	var zero T
	if v != zero {
		p[name] = fmt.Sprint(v)
	}
}

// paramsHash identifies a generator and its normalized parameters. It is computed from settings only, never from
// a value.
func paramsHash(generator string, p secretgen.Params) string {
	var b strings.Builder
	b.WriteString(generator)
	for _, k := range slices.Sorted(maps.Keys(p)) {
		b.WriteString("\x00" + k + "=" + p[k])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:16]
}

// optionalDuration parses an optional duration and checks its bounds; zero when unset.
func optionalDuration(field, value, minimum, maximum string) (time.Duration, error) {
	if value == "" {
		return 0, nil
	}
	lo, _ := time.ParseDuration(minimum)
	hi, _ := time.ParseDuration(maximum)
	d, err := time.ParseDuration(value)
	if err != nil || d < lo || d > hi {
		return 0, invalidSpec("%s: %q is not a duration between %s and %s", field, value, minimum, maximum)
	}
	return d, nil
}

// recordOf reads the operator's record from a Secret's annotations; what is missing or unreadable is zero.
func recordOf(s *corev1.Secret) secretRecord {
	a := s.Annotations
	rec := secretRecord{request: a[syncv1.RotationRequestAnnotation]}
	if t, err := time.Parse(time.RFC3339, a[syncv1.LastRotationAnnotation]); err == nil {
		rec.lastRotation = t.UTC()
	}
	if n, err := strconv.ParseInt(a[syncv1.RotationCountAnnotation], 10, 64); err == nil && n >= 0 {
		rec.count = n
	}
	if raw, ok := a[syncv1.GeneratorsAnnotation]; ok {
		var g map[string]string
		if json.Unmarshal([]byte(raw), &g) == nil && g != nil {
			rec.generators = g
		}
	}
	return rec
}

// desiredSecret returns the Secret holding data and rec: the existing one with the operator's labels, annotations
// and data set (what others added to its metadata is kept), or a new one.
func desiredSecret(ms *syncv1.ManagedSecret, existing *corev1.Secret, data map[string][]byte, rec secretRecord) *corev1.Secret {
	var s *corev1.Secret
	if existing != nil {
		s = existing.DeepCopy()
	} else {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: secretNameOf(ms)}, Type: ms.Spec.Type}
		if s.Type == "" {
			s.Type = corev1.SecretTypeOpaque
		}
	}
	s.Data, s.StringData = data, nil

	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[syncer.ManagedByLabel] = syncer.ManagedByValue
	labels[syncer.OwnerUIDLabel] = string(ms.UID)
	s.Labels = labels

	annotations := maps.Clone(s.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	generators, _ := json.Marshal(rec.generators) // a map of strings always marshals
	annotations[syncer.OwnerAnnotation] = ms.Namespace + "/" + ms.Name
	annotations[syncv1.GeneratorsAnnotation] = string(generators)
	annotations[syncv1.LastRotationAnnotation] = rec.lastRotation.UTC().Format(time.RFC3339)
	annotations[syncv1.RotationCountAnnotation] = strconv.FormatInt(rec.count, 10)
	if rec.request != "" {
		annotations[syncv1.RotationRequestAnnotation] = rec.request
	} else {
		delete(annotations, syncv1.RotationRequestAnnotation)
	}
	s.Annotations = annotations
	return s
}

// --- deletion ----------------------------------------------------------------------------------------------------

// reconcileDelete deletes or releases the Secret of a ManagedSecret being deleted, following its deletionPolicy,
// and then removes the finalizer. The Secret is found by its owner label on the API server, so cleanup is
// idempotent and survives a restart; a Secret of someone else's is never touched.
func (r *ManagedSecretReconciler) reconcileDelete(ctx context.Context, before, ms *syncv1.ManagedSecret) error {
	if !controllerutil.ContainsFinalizer(ms, syncv1.Finalizer) {
		return nil
	}
	list := &corev1.SecretList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(ms.Namespace),
		client.MatchingLabels{syncer.ManagedByLabel: syncer.ManagedByValue, syncer.OwnerUIDLabel: string(ms.UID)}); err != nil {
		return fmt.Errorf("listing the generated Secret: %w", err)
	}
	cleanup, verb := r.deleteGenerated, "delete"
	if ms.Spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
		cleanup, verb = r.releaseGenerated, "release"
	}
	var errs []error
	for i := range list.Items {
		if err := cleanup(ctx, &list.Items[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		setManagedSecretCondition(ms, syncv1.DeletingCondition, metav1.ConditionFalse, syncv1.ReasonCleanupFailed,
			fmt.Sprintf("Could not %s the Secret; retrying. The ManagedSecret stays until it is cleaned up: %v", verb, errors.Join(errs...)))
		metrics.ManagedSecretFailures.WithLabelValues(syncv1.ReasonCleanupFailed).Inc()
		r.emitManagedSecretCleanupEvent(before, ms)
		return errors.Join(errs...)
	}

	if err := removeFinalizer(ctx, r.Client, ms); err != nil {
		return err
	}
	metrics.SetNextRotation(client.ObjectKeyFromObject(ms), time.Time{})
	logf.FromContext(ctx).Info("Cleaned up the generated Secret", "policy", ms.Spec.DeletionPolicy, "secrets", len(list.Items))
	return nil
}

// deleteGenerated deletes a generated Secret (only the exact object listed); one already gone is fine.
func (r *ManagedSecretReconciler) deleteGenerated(ctx context.Context, s *corev1.Secret) error {
	uid := s.UID
	if err := r.Delete(ctx, s, client.Preconditions{UID: &uid}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// releaseGenerated strips the operator's labels and annotations from a generated Secret and leaves its data: what
// the Orphan policy leaves behind is an ordinary Secret nothing manages.
func (r *ManagedSecretReconciler) releaseGenerated(ctx context.Context, s *corev1.Secret) error {
	out := s.DeepCopy()
	labels := maps.Clone(out.Labels)
	delete(labels, syncer.ManagedByLabel)
	delete(labels, syncer.OwnerUIDLabel)
	out.Labels = labels
	annotations := maps.Clone(out.Annotations)
	for _, k := range []string{syncer.OwnerAnnotation, syncv1.GeneratorsAnnotation, syncv1.LastRotationAnnotation,
		syncv1.RotationCountAnnotation, syncv1.RotationRequestAnnotation} {
		delete(annotations, k)
	}
	out.Annotations = annotations
	if err := r.Patch(ctx, out, client.MergeFrom(s)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("releasing Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}
