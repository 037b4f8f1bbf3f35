// Package migration moves existing custom resources to the CRD's storage version and then drops the older versions
// from the CRD's status.storedVersions, as the Kubernetes docs prescribe for retiring a version. OLM never does
// this itself, and refuses to install a CRD that stops serving a version still listed there.
package migration

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Read and prune status.storedVersions of the operator's own CRD only, and rewrite its objects in the storage version.
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get,resourceNames=configmapsyncs.sync.configmapsync.io
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions/status,verbs=update;patch,resourceNames=configmapsyncs.sync.configmapsync.io
// +kubebuilder:rbac:groups=sync.configmapsync.io,resources=configmapsyncs,verbs=update
// Record an event on the CRD when the migration is done.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// StoredVersions migrates the objects of one CRD to its storage version. It runs once, on the leader, when the
// manager starts, and retries with backoff until it succeeds or the manager stops.
type StoredVersions struct {
	// Client writes objects and the CRD status; Reader lists uncached, so every object is seen.
	Client   client.Client
	Reader   client.Reader
	Recorder recorder.EventRecorder
	// CRD is the name of the CustomResourceDefinition, e.g. configmapsyncs.sync.configmapsync.io.
	CRD string
}

var _ manager.LeaderElectionRunnable = &StoredVersions{}

// NeedLeaderElection makes only the leader migrate: one writer is enough, and followers may be older versions.
func (m *StoredVersions) NeedLeaderElection() bool { return true }

// Start runs the migration until it succeeds. A failure is logged and retried; it never stops the manager, because
// syncing works whatever versions are stored.
func (m *StoredVersions) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithValues("crd", m.CRD)
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: 5 * time.Minute}
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		result, err := m.Migrate(ctx)
		if err != nil {
			log.Error(err, "Migrating stored versions failed; retrying")
			return false, nil
		}
		if len(result.Dropped) > 0 {
			log.Info("Migrated stored versions", "rewritten", result.Rewritten, "dropped", result.Dropped,
				"storageVersion", result.StorageVersion)
		}
		return true, nil
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Result is what a migration did.
type Result struct {
	StorageVersion string
	// Rewritten counts the objects written in the storage version.
	Rewritten int
	// Dropped lists the versions removed from status.storedVersions.
	Dropped []string
}

// Migrate rewrites every object of the CRD in its storage version, then sets status.storedVersions to just that
// version. It does nothing when the storage version is already the only stored one.
func (m *StoredVersions) Migrate(ctx context.Context) (Result, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := m.Reader.Get(ctx, client.ObjectKey{Name: m.CRD}, crd); err != nil {
		return Result{}, fmt.Errorf("reading CRD %s: %w", m.CRD, err)
	}
	storage := storageVersion(crd)
	if storage == "" {
		return Result{}, fmt.Errorf("CRD %s has no storage version", m.CRD)
	}
	result := Result{StorageVersion: storage}
	if slices.Equal(crd.Status.StoredVersions, []string{storage}) {
		return result, nil
	}

	gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: storage, Kind: crd.Spec.Names.ListKind}
	n, err := m.rewriteAll(ctx, gvk)
	result.Rewritten = n
	if err != nil {
		return result, err
	}

	for _, v := range crd.Status.StoredVersions {
		if v != storage {
			result.Dropped = append(result.Dropped, v)
		}
	}
	patched := crd.DeepCopy()
	patched.Status.StoredVersions = []string{storage}
	// The optimistic lock makes a concurrent CRD change (a new version being stored) fail this patch, so the next
	// attempt starts over instead of dropping a version that just came into use.
	if err := m.Client.Status().Patch(ctx, patched, client.MergeFromWithOptions(crd, client.MergeFromWithOptimisticLock{})); err != nil {
		return result, fmt.Errorf("setting status.storedVersions of CRD %s: %w", m.CRD, err)
	}
	m.Recorder.Eventf(patched, nil, corev1.EventTypeNormal, "StoredVersionsMigrated", "MigrateStoredVersions",
		"Rewrote %d objects in %s and dropped %v from status.storedVersions", n, storage, result.Dropped)
	return result, nil
}

// rewriteAll writes every object of gvk back unchanged, page by page. The API server stores what it writes in the
// storage version, so an object stored in an older version is converted; one already stored in it is not written
// again (the API server skips updates that change nothing).
func (m *StoredVersions) rewriteAll(ctx context.Context, listGVK schema.GroupVersionKind) (int, error) {
	rewritten := 0
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(listGVK)
	for {
		if err := m.Reader.List(ctx, list, client.Limit(250), client.Continue(list.GetContinue())); err != nil {
			return rewritten, fmt.Errorf("listing %s: %w", listGVK.Kind, err)
		}
		for i := range list.Items {
			if err := m.rewrite(ctx, &list.Items[i]); err != nil {
				return rewritten, err
			}
			rewritten++
		}
		if list.GetContinue() == "" {
			return rewritten, nil
		}
	}
}

func (m *StoredVersions) rewrite(ctx context.Context, obj *unstructured.Unstructured) error {
	key := client.ObjectKeyFromObject(obj)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		err := m.Client.Update(ctx, obj)
		if apierrors.IsConflict(err) {
			// Someone else wrote it in the meantime, which also stores it in the storage version; re-read and retry.
			if getErr := m.Reader.Get(ctx, key, obj); getErr != nil {
				return getErr
			}
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rewriting %s %s: %w", obj.GetKind(), key, err)
	}
	return nil
}

func storageVersion(crd *apiextensionsv1.CustomResourceDefinition) string {
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			return v.Name
		}
	}
	return ""
}
