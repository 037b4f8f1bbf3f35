package configmapsync

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Where a ConfigMapSync's copies go, and what of the operator's stands there already.

// resolveTargets returns the namespaces that should hold a copy, from the listed ones and the selector, using the
// namespace metadata cache.
func (r *Reconciler) resolveTargets(ctx context.Context, cms *syncv1.ConfigMapSync) (syncer.Targets, error) {
	var selector labels.Selector
	if s := cms.Spec.Destination.NamespaceSelector; s != nil {
		var err error
		if selector, err = metav1.LabelSelectorAsSelector(s); err != nil {
			return syncer.Targets{}, fmt.Errorf("spec.destination.namespaceSelector: %w", err)
		}
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
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
	if cms.CopyIsSource() {
		rules.Source = cms.SourceNamespace() // Never write over the source itself.
	}
	return syncer.ResolveTargets(rules, namespaces), nil
}

// ownedCopies returns the copies of kind the store shows as cms's, by namespace and name: labelled for cms and
// proven. The objects that claim cms without a proof come second: they are never written, pruned or deleted.
func (r *Reconciler) ownedCopies(cms *syncv1.ConfigMapSync, kind string) (owned map[types.NamespacedName]client.Object, unproven []client.Object, err error) {
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
