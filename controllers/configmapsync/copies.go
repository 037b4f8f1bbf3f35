package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// syncCopy brings one destination in line with desired. existing is the view of the object the copy store holds
// there (labelled as the operator's, proven or not), or nil; opts says what the ConfigMapSync lets Plan take over.
func (r *ConfigMapSyncReconciler) syncCopy(ctx context.Context, existing, desired client.Object, owner syncer.Owner, opts syncer.PlanOptions) (syncer.Action, error) {
	if r.written.holds(desired, existing) {
		return syncer.ActionNone, nil // Written by this process already; the store has not caught up yet.
	}
	action := syncer.Plan(existing, desired, owner, opts)
	if action == syncer.ActionCreate {
		err := r.copyWriter().Create(ctx, desired)
		if !apierrors.IsAlreadyExists(err) {
			return action, r.wrote(desired, action, err)
		}
		// The store only holds labelled objects, so the object in the way is either someone else's (invisible to
		// the store) or a copy the store has not seen yet: read it live to tell which.
		live := syncer.NewObject(kindName(desired))
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
			return action, fmt.Errorf("reading %s: %w", describe(desired), err)
		}
		// Judged as the store judges: a view, its data hashed and its proof checked, so that no other rule decides
		// a live object.
		existing = r.Copies.View(live)
		action = syncer.Plan(existing, desired, owner, opts)
	}
	keepAdoption(existing, desired, action)
	switch {
	case action == syncer.ActionAdopt && !syncer.NeedsReplace(existing, desired), action == syncer.ActionUpdate:
		patch, err := syncer.UpdatePatch(existing, desired)
		if err != nil {
			return action, described(action, desired, err)
		}
		return action, r.wrote(desired, action, r.copyWriter().Patch(ctx, desired, patch))
	case action == syncer.ActionAdopt, action == syncer.ActionReplace:
		return action, r.wrote(desired, action, r.replace(ctx, existing, desired))
	}
	return action, nil
}

// replace deletes existing and creates desired in its place, for what cannot be patched: an immutable copy whose
// data changes, a Secret whose type changes. Only the exact object read is deleted, and only when the destination
// will not be left without a copy: not while another controller's finalizer holds the object (the delete could
// not complete, and the copy would be gone the moment the finalizer is), and not when the API server or an
// admission policy would refuse the new object (a server-side dry run, under a generated name since the old one
// still holds the name). What others put on the old object (labels, annotations, ownerReferences) goes onto the new.
func (r *ConfigMapSyncReconciler) replace(ctx context.Context, existing, desired client.Object) error {
	live := metadataOf(kindName(desired))
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return err
	}
	if live.UID != existing.GetUID() {
		return fmt.Errorf("the object changed while it was being replaced; retrying")
	}
	if len(live.Finalizers) > 0 {
		return fmt.Errorf("it cannot be replaced while finalizers of another controller hold it (%s); the copy in place "+
			"is kept and replaced once they are removed", strings.Join(live.Finalizers, ", "))
	}
	syncer.KeepOthersMetadata(live, desired)
	probe := desired.DeepCopyObject().(client.Object)
	probe.SetName("")
	probe.SetGenerateName(desired.GetName() + "-")
	if err := r.Create(ctx, probe, client.DryRunAll); err != nil {
		return fmt.Errorf("the replacement would be refused, so the object in place is kept: %w", err)
	}
	uid, rv := live.UID, live.ResourceVersion
	err := r.Delete(ctx, live, client.Preconditions{UID: &uid, ResourceVersion: &rv})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return r.copyWriter().Create(ctx, desired)
}

// keepAdoption marks desired as adopted when action adopts existing, and keeps the mark of an earlier adoption.
func keepAdoption(existing, desired client.Object, action syncer.Action) {
	at := ""
	switch {
	case action == syncer.ActionAdopt:
		at = time.Now().UTC().Format(time.RFC3339)
	case existing != nil:
		at = existing.GetAnnotations()[syncv1.AdoptedAnnotation]
	}
	if at != "" {
		annotations := desired.GetAnnotations()
		annotations[syncv1.AdoptedAnnotation] = at
		desired.SetAnnotations(annotations)
	}
}

// CopyWriter creates and patches copies and sets their metadata to the API server's answer. internal/metawrite's
// reads back only the metadata, not the MiB of data a copy may hold.
type CopyWriter interface {
	Create(ctx context.Context, obj client.Object) error
	// Patch applies a strategic merge patch to the object obj names.
	Patch(ctx context.Context, obj client.Object, patch []byte) error
}

// copyWriter returns r.Writer, or the manager's client when none is set (unit tests).
func (r *ConfigMapSyncReconciler) copyWriter() CopyWriter {
	if r.Writer != nil {
		return r.Writer
	}
	return clientWriter{r.Client}
}

// clientWriter writes copies with a controller-runtime client, which decodes the whole answer.
type clientWriter struct{ client.Client }

func (w clientWriter) Create(ctx context.Context, obj client.Object) error {
	return w.Client.Create(ctx, obj)
}
func (w clientWriter) Patch(ctx context.Context, obj client.Object, patch []byte) error {
	return w.Client.Patch(ctx, obj, client.RawPatch(types.StrategicMergePatchType, patch))
}

// wrote counts a write to a copy and wraps its error with what was written. Errors name the object, never its data.
func (r *ConfigMapSyncReconciler) wrote(obj client.Object, action syncer.Action, err error) error {
	if err != nil {
		r.written.forget(obj)
		return described(action, obj, err)
	}
	switch action {
	case syncer.ActionCreate, syncer.ActionUpdate, syncer.ActionReplace:
		r.written.record(obj)
	default:
		r.written.forget(obj)
	}
	metrics.CopyWrites.WithLabelValues(kindName(obj), string(action)).Inc()
	return nil
}

// deleteCopy deletes one of the operator's copies; a copy already gone is fine.
func (r *ConfigMapSyncReconciler) deleteCopy(ctx context.Context, obj client.Object) error {
	return r.wrote(obj, "Delete", deleteOwned(ctx, r.Client, obj))
}

// releaseCopy strips the operator's ownership from a copy and leaves its data (deletionPolicy Orphan).
func (r *ConfigMapSyncReconciler) releaseCopy(ctx context.Context, obj client.Object) error {
	return r.wrote(obj, "Release", release(ctx, r.Client, obj))
}

// ownedCopies returns the copies of kind the store shows as cms's, by namespace and name: labelled for cms and
// proven. The objects that claim cms without a proof come second: they are never written, pruned or deleted.
func (r *ConfigMapSyncReconciler) ownedCopies(cms *syncv1.ConfigMapSync, kind string) (owned map[types.NamespacedName]client.Object, unproven []client.Object, err error) {
	views, err := r.Copies.ByOwner(kind, cms.UID)
	if err != nil {
		return nil, nil, err
	}
	owner := syncer.OwnerOf(cms)
	owned = make(map[types.NamespacedName]client.Object, len(views))
	for _, v := range views {
		if syncer.IsOwnedBy(v, owner) {
			owned[client.ObjectKeyFromObject(v)] = v
		} else {
			unproven = append(unproven, v)
		}
	}
	return owned, unproven, nil
}

// liveCopies lists every copy owned by cms straight from the API server, metadata only (a copy may hold a MiB):
// releasing copies must not miss one the store has not seen yet, nor touch an object that only claims to be one.
func (r *ConfigMapSyncReconciler) liveCopies(ctx context.Context, cms *syncv1.ConfigMapSync) ([]client.Object, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(cms.SourceKind()) + "List"))
	owner := syncer.OwnerOf(cms)
	if err := r.APIReader.List(ctx, list, client.MatchingLabels{
		syncv1.OwnerUIDLabel: string(owner.UID), syncv1.ManagedByLabel: syncv1.ManagedByValue,
	}); err != nil {
		return nil, fmt.Errorf("listing copies: %w", err)
	}
	var out []client.Object
	for i := range list.Items {
		if v := r.Copies.View(&list.Items[i]); syncer.IsOwnedBy(v, owner) {
			out = append(out, v)
		}
	}
	return out, nil
}

// copiesToDelete returns the copies of cms to delete, without a cluster-wide list: those in the store, and, read
// live by name (metadata only), the copy in every namespace the sync writes to that the store has not shown yet:
// a copy written a moment ago may not have reached it. A copy the store only sees after its ConfigMapSync is gone
// is deleted then (deleteOrphans).
func (r *ConfigMapSyncReconciler) copiesToDelete(ctx context.Context, cms *syncv1.ConfigMapSync) ([]client.Object, error) {
	kind := string(cms.SourceKind())
	owned, _, err := r.ownedCopies(cms, kind)
	if err != nil {
		return nil, err
	}
	targets, err := r.resolveTargets(ctx, cms)
	if err != nil {
		return nil, err
	}
	name := cms.CopyName()
	var unseen []types.NamespacedName
	for _, ns := range targets.Namespaces {
		if key := (types.NamespacedName{Namespace: ns, Name: name}); owned[key] == nil {
			unseen = append(unseen, key)
		}
	}
	found := make([]client.Object, len(unseen))
	errs := make([]error, len(unseen))
	owner := syncer.OwnerOf(cms)
	r.fanOut(len(unseen), func(i int) {
		obj := metadataOf(kind)
		if err := r.APIReader.Get(ctx, unseen[i], obj); err != nil {
			errs[i] = client.IgnoreNotFound(err)
		} else if v := r.Copies.View(obj); syncer.IsOwnedBy(v, owner) {
			found[i] = v
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("reading copies: %w", err)
	}
	out := slices.Collect(maps.Values(owned))
	for _, obj := range found {
		if obj != nil {
			out = append(out, obj)
		}
	}
	return out, nil
}

// deleteOrphans deletes the copies the store holds for a ConfigMapSync this process finalized: copies written
// while it was being deleted and seen by the store only after its cleanup. Only the UIDs this process cleaned up
// under that name count, and only proven copies, so an object that merely carries the operator's labels and an
// owner that does not exist is never deleted.
func (r *ConfigMapSyncReconciler) deleteOrphans(ctx context.Context, key types.NamespacedName) error {
	var orphans []client.Object
	for _, uid := range r.finalized.of(key) {
		owner := syncer.Owner{NamespacedName: key, UID: uid}
		for _, kind := range []string{syncer.KindConfigMap, syncer.KindSecret} {
			views, err := r.Copies.ByOwner(kind, uid)
			if err != nil {
				return err
			}
			for _, v := range views {
				if got, ok := syncer.OwnerKey(v); ok && got == key && syncer.IsSyncCopy(v) && syncer.IsOwnedBy(v, owner) {
					orphans = append(orphans, v)
				}
			}
		}
	}
	errs := make([]error, len(orphans))
	r.fanOut(len(orphans), func(i int) { errs[i] = r.deleteCopy(ctx, orphans[i]) })
	return errors.Join(errs...)
}

// resolveTargets returns the namespaces that should hold a copy, from the listed ones and the selector, using the
// namespace metadata cache.
func (r *ConfigMapSyncReconciler) resolveTargets(ctx context.Context, cms *syncv1.ConfigMapSync) (syncer.Targets, error) {
	var selector labels.Selector
	if s := cms.Spec.Destination.NamespaceSelector; s != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return syncer.Targets{}, fmt.Errorf("spec.destination.namespaceSelector: %w", err)
		}
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(namespaceGVK.GroupVersion().WithKind("NamespaceList"))
	if err := r.Metadata.List(ctx, list); err != nil {
		return syncer.Targets{}, fmt.Errorf("listing namespaces: %w", err)
	}
	namespaces := make(map[string]syncer.Namespace, len(list.Items))
	for _, ns := range list.Items {
		namespaces[ns.Name] = syncer.Namespace{Name: ns.Name, Labels: ns.Labels, Terminating: ns.DeletionTimestamp != nil}
	}
	rules := syncer.TargetRules{
		Listed:   cms.Spec.Destination.Namespaces,
		Selector: selector,
		Exclude:  slices.Concat(cms.Spec.Destination.ExcludeNamespaces, r.ExcludedNamespaces),
	}
	if cms.CopyName() == cms.Spec.Source.Name {
		rules.Source = cms.SourceNamespace() // Never write over the source itself.
	}
	return syncer.ResolveTargets(rules, namespaces), nil
}

// logOutcome logs the copies a sync wrote; an unchanged resync logs nothing.
func logOutcome(ctx context.Context, out outcome) {
	log := logf.FromContext(ctx)
	for _, d := range out.destinations {
		if d.err == nil && d.action != syncer.ActionNone {
			log.Info("Synced copy", "action", d.action, "namespace", d.namespace, "kind", out.kind)
		}
	}
	if len(out.missing) > 0 {
		log.V(1).Info("Listed destination namespaces do not exist", "namespaces", slices.Clip(out.missing))
	}
	if len(out.excluded) > 0 {
		log.V(1).Info("Listed destination namespaces are excluded", "namespaces", slices.Clip(out.excluded))
	}
}
