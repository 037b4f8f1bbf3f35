// Package managedsecret owns the ManagedSecret reconciler: its Secret planned from a live read
// (internal/secretplan), written, rotated and cleaned up, and the status, events and metrics of each reconcile
// (status.go). The shape of a reconcile is controllers/lifecycle's and restarts after a rotation are
// controllers/rollout's. Its exported surface is the Reconciler the wiring (internal/operator) builds.
package managedsecret

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/controllers/lifecycle"
	"github.com/configmapsync/configmapsync-operator/controllers/rollout"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/metawatch"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/secretplan"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Reconciler generates the Secret of each ManagedSecret and rotates its generated keys. The Secret is
// the record of its own rotations (annotations next to the values), so a rotation and its bookkeeping are one
// write; status mirrors that record. No value, or anything derived from one, leaves the Secret.
type Reconciler struct {
	client.Client
	// APIReader reads uncached: the live Secret before every write (the cache may not have seen the operator's
	// last write yet), a Secret in the way (the manager's cache only holds the operator's own Secrets) and, at
	// deletion, the Secrets to clean up.
	APIReader client.Reader
	// Sources notifies of Secret changes by name, so that the deletion of a Secret in the way wakes the
	// ManagedSecret waiting for its name.
	Sources *metawatch.Watches
	// Metadata caches the metadata of workloads (the rollout opt-in), shared with the ConfigMapSync controller.
	Metadata cache.Cache
	// Copies holds the views of the objects labelled as the operator's; its Secrets wake their ManagedSecret, and
	// its keys sign and check the generated Secrets.
	Copies *copystore.Store
	// AcceptUnprovenUntil ends the upgrade window: until then, a Secret without a proof that claims a
	// ManagedSecret exactly is taken as its Secret and signed (ownership.Keys).
	AcceptUnprovenUntil time.Time
	Recorder            recorder.EventRecorder
	// Now is the clock; nil means time.Now. Unit tests set it.
	Now func() time.Time

	// workloads remembers what the rollout engine read of workloads' pod templates.
	workloads rollout.Memo
}

// RBAC, least privilege; each rule says why:
// Watch ManagedSecrets, and patch them to add and remove the cleanup finalizer.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets,verbs=get;list;watch;patch
// Report rotation times and conditions.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets/status,verbs=get;update;patch
// Set finalizers where the OwnerReferencesPermissionEnforcement admission plugin runs.
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=managedsecrets/finalizers,verbs=update
// Create and update the generated Secrets, watch Secrets in the way (metadata only), and delete or release the
// generated Secret at deletion.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// Record Warning events on conditions and Normal events on rotations.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

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
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, o lifecycle.Options) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &syncv1.ManagedSecret{}, managedSecretNameIndex,
		func(obj client.Object) []string { return []string{obj.(*syncv1.ManagedSecret).SecretName()} }); err != nil {
		return fmt.Errorf("indexing ManagedSecrets by Secret name: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&syncv1.ManagedSecret{}).
		Named("managedsecret").
		WithOptions(lifecycle.ControllerOptions(o)).
		WatchesRawSource(r.Copies.Source(syncer.KindSecret, handler.EnqueueRequestsFromMapFunc(managedSecretOf))).
		WatchesRawSource(r.Sources.Source(lifecycle.ResourceOf(syncer.KindSecret), r.managedSecretsNamed)).
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
func (r *Reconciler) managedSecretsNamed(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
	return lifecycle.RequestsFor(ctx, r.Client, &syncv1.ManagedSecretList{}, client.InNamespace(obj.Namespace),
		client.MatchingFields{managedSecretNameIndex: obj.Name})
}

// Reconcile brings the Secret of one ManagedSecret in line with its spec and rotation schedule, or cleans it up
// when the ManagedSecret is deleted.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return lifecycle.Reconcile(ctx, r.Client, req, &syncv1.ManagedSecret{}, lifecycle.Steps[*syncv1.ManagedSecret]{
		Normal: r.reconcileNormal, Delete: r.reconcileDelete, Gone: r.gone,
	})
}

// gone does nothing: a ManagedSecret is gone only after its cleanup, which cleared its metrics.
func (r *Reconciler) gone(context.Context, types.NamespacedName) error { return nil }

// reconcileNormal writes the Secret when it differs from the plan, and schedules the next wake-up: the next
// rotation or the expiry of the ".previous" keys, whichever comes first.
func (r *Reconciler) reconcileNormal(ctx context.Context, before, ms *syncv1.ManagedSecret) (ctrl.Result, error) {
	out, err := r.apply(ctx, ms)
	if out.stale && err == nil {
		logf.FromContext(ctx).V(1).Info("The Secret changed while it was written; planning again", "secret", ms.SecretName())
		return ctrl.Result{RequeueAfter: staleRetryDelay}, nil
	}
	recordStatus(ms, out, err)
	recordMetrics(ms, out, err)
	r.emitEvents(before, ms, out)
	logOutcome(ctx, ms, out)
	wait, rolloutErr := r.restartConsumers(ctx, ms, out)
	if err := rollout.JoinError(err, rolloutErr); err != nil {
		return ctrl.Result{}, err
	}
	var next time.Duration
	if out.plan != nil && !out.plan.Wake.IsZero() {
		next = max(out.plan.Wake.Sub(r.now()), minWakeDelay)
	}
	if wait > 0 && (next == 0 || wait < next) {
		next = wait
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// restartConsumers restarts the workloads of the namespace that read the Secret and are owed a restart for the values it
// holds now (controllers/rollout): at every reconcile in which the Secret is the operator's and up to date, so a restart
// that failed, was debounced or was due when the operator stopped is made by a later one. status.pendingRollout
// says whether one waits for the debounce window. It returns when that restart is due.
func (r *Reconciler) restartConsumers(ctx context.Context, ms *syncv1.ManagedSecret, out secretOutcome) (time.Duration, error) {
	if out.plan == nil {
		return 0, nil
	}
	secret := out.plan.Desired
	held := rollout.WrittenOf(secret, syncer.KindSecret, syncer.HashOf(secret), ms.Status.PendingRollout)
	engine := rollout.Engine{Patcher: r.Client, Reader: r.APIReader, Metadata: r.Metadata, Workloads: &r.workloads}
	pass := engine.Run(ctx, ms.EffectiveRollout(), []rollout.Written{held}, r.now())
	rollout.ReportFailures(r.Recorder, ms, pass)
	ms.Status.PendingRollout = len(pass.Pending) > 0
	return pass.Wait, pass.Err
}

// secretOutcome is what one reconcile found and did.
type secretOutcome struct {
	// plan is what the Secret holds now, when it is the operator's and up to date (written or found so).
	plan *secretplan.Plan
	// action is the write made: Create, Update, or None.
	action syncer.Action
	// conflict means a Secret of that name belongs to someone else; it was left unchanged.
	conflict bool
	// stale means the Secret changed between the live read and the write; nothing was written.
	stale bool
}

// apply plans the Secret from a live read and writes it when the plan says so. Planning against the live Secret
// means a rotation is never repeated because a cache had not seen it yet, and an object of someone else's is found
// before anything is written; no cache holds the values of Secrets.
func (r *Reconciler) apply(ctx context.Context, ms *syncv1.ManagedSecret) (secretOutcome, error) {
	now := r.now()
	out, err := r.decide(ctx, r.APIReader, ms, now)
	if err != nil || out.conflict || out.action == syncer.ActionNone {
		return out, err
	}
	plan := out.plan
	if plan.ValuesChanged {
		// For the rollout engine: the workloads that predate this change and read the Secret are owed a restart.
		syncer.SetContentChangedAt(plan.Desired, now)
	}
	switch plan.Action {
	case syncer.ActionCreate:
		err = r.Create(ctx, plan.Desired)
	case syncer.ActionUpdate:
		err = r.Update(ctx, plan.Desired)
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return secretOutcome{stale: true}, nil
	}
	if err != nil {
		return secretOutcome{}, lifecycle.Classify(lifecycle.Described(plan.Action, plan.Desired, err)) // described redacts it
	}
	return out, nil
}

// decide reads the Secret through reader and plans it. A Secret of someone else's is a conflict, never planned.
// The outcome's action is the write the plan needs.
func (r *Reconciler) decide(ctx context.Context, reader client.Reader, ms *syncv1.ManagedSecret, now time.Time) (secretOutcome, error) {
	key := types.NamespacedName{Namespace: ms.Namespace, Name: ms.SecretName()}
	existing := &corev1.Secret{}
	if err := reader.Get(ctx, key, existing); err != nil {
		if !apierrors.IsNotFound(err) {
			return secretOutcome{}, fmt.Errorf("reading Secret %s: %w", key, err)
		}
		existing = nil
	}
	owner := syncer.OwnerOf(ms)
	if existing != nil && !r.owns(r.Copies.View(existing), owner, now) {
		return secretOutcome{conflict: true}, nil
	}
	plan, err := secretplan.Decide(ms, existing, now)
	if err != nil {
		return secretOutcome{}, err
	}
	plan.Sign(existing, r.Copies.Keys().Proof(ms.UID, syncer.KindSecret, key.Namespace, key.Name))
	return secretOutcome{plan: &plan, action: plan.Action}, nil
}

// owns reports whether the Secret seen as v is owner's: proven, or, in the upgrade window, claiming owner exactly.
func (r *Reconciler) owns(v *syncer.View, owner syncer.Owner, now time.Time) bool {
	return syncer.IsOwnedBy(v, owner) || (now.Before(r.AcceptUnprovenUntil) && syncer.ClaimsExactly(v, owner))
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// reconcileDelete deletes or releases the Secret of a ManagedSecret being deleted, following its deletionPolicy,
// and then removes the finalizer. The Secret is found by its owner label on the API server, so cleanup is
// idempotent and survives a restart; a Secret of someone else's is never touched.
func (r *Reconciler) reconcileDelete(ctx context.Context, before, ms *syncv1.ManagedSecret) error {
	if !controllerutil.ContainsFinalizer(ms, syncv1.Finalizer) {
		return nil
	}
	list := &corev1.SecretList{}
	if err := r.APIReader.List(ctx, list, client.InNamespace(ms.Namespace),
		client.MatchingLabels{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: string(ms.UID)}); err != nil {
		return fmt.Errorf("listing the generated Secret: %w", err)
	}
	work := lifecycle.Cleanup{Noun: "Secrets", Limit: 1, Verb: "delete", Clean: func(ctx context.Context, s client.Object) error {
		return lifecycle.Described("Delete", s, lifecycle.DeleteOwned(ctx, r.Client, s))
	}}
	if ms.Spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
		work.Verb, work.Clean = "release", func(ctx context.Context, s client.Object) error {
			return lifecycle.Described("Release", s, lifecycle.Release(ctx, r.Client, s))
		}
	}
	owner := syncer.OwnerOf(ms)
	for i := range list.Items {
		if v := r.Copies.View(&list.Items[i]); syncer.IsOwnedBy(v, owner) {
			work.Objects = append(work.Objects, v)
		}
	}
	if _, err := work.Run(ctx, r.Recorder, before, ms); err != nil {
		metrics.ManagedSecretFailures.WithLabelValues(syncv1.ReasonCleanupFailed).Inc()
		return err
	}

	if err := lifecycle.RemoveFinalizer(ctx, r.Client, ms); err != nil {
		return err
	}
	metrics.SetNextRotation(client.ObjectKeyFromObject(ms), time.Time{})
	logf.FromContext(ctx).Info("Cleaned up the generated Secret", "policy", ms.Spec.DeletionPolicy, "secrets", len(list.Items))
	return nil
}
