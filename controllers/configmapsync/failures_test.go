package configmapsync

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// --- reconcile: failures --------------------------------------------------------------------------------------

func TestReconcile_TransientCreateErrorIsRetried(t *testing.T) {
	tests := map[string]error{
		"service unavailable": apierrors.NewServiceUnavailable("etcd is busy"),
		"timeout":             apierrors.NewTimeoutError("request timed out", 1),
		"too many requests":   apierrors.NewTooManyRequests("slow down", 1),
		"internal error":      apierrors.NewInternalError(errors.New("boom")),
		"not an API error":    errors.New("connection reset by peer"),
	}
	for name, injected := range tests {
		t.Run(name, func(t *testing.T) {
			e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
			e.setFault(failCreateInB(injected))

			_, err := e.reconcile()
			require.Error(t, err)
			assert.ErrorIs(t, err, injected)
			assert.False(t, isTerminalErr(err), "a transient error must be retried: %v", err)

			cms := e.cms()
			requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed)
			assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
			assert.EqualValues(t, 1, cms.Status.FailedDestinations)
			assert.EqualValues(t, 2, cms.Status.SyncedDestinations)
			assert.EqualValues(t, 3, cms.Status.DesiredDestinations)
			assert.Equal(t, syncv1.SyncStatusPartiallySynced, cms.Status.SyncStatus)
			require.Len(t, cms.Status.Destinations, 3)
			assert.Equal(t, "ns-b", cms.Status.Destinations[0].Namespace)
			assert.Equal(t, syncv1.DestinationFailed, cms.Status.Destinations[0].State)
			assert.NotEmpty(t, cms.Status.Destinations[0].Message)
			assert.Equal(t, []string{syncv1.ReasonSyncFailed}, e.rec.warnings())
			assert.NotNil(t, e.copyIn("ns-a"))
			assert.Nil(t, e.copyIn("ns-b"))
			assert.NotNil(t, e.copyIn("ns-c"))

			// Failing the same way again adds no event.
			_, err = e.reconcile()
			require.Error(t, err)
			assert.Equal(t, []string{syncv1.ReasonSyncFailed}, e.rec.warnings())

			e.setFault(nil)
			res := e.mustReconcile()
			assert.Equal(t, 5*time.Minute, res.RequeueAfter)
			cms = e.cms()
			requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
			assert.EqualValues(t, 0, cms.Status.FailedDestinations)
			assert.EqualValues(t, 3, cms.Status.SyncedDestinations)
			assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
			assert.NotNil(t, e.copyIn("ns-b"))
			assert.Equal(t, []string{syncv1.ReasonSyncFailed}, e.rec.warnings(), "recovery adds no Warning event")
			assert.Equal(t, []string{syncv1.ReasonSynced}, e.rec.normals(), "the recovery is a Normal event")

			e.mustReconcile()
			assert.Equal(t, []string{syncv1.ReasonSynced}, e.rec.normals(), "staying Ready adds no event")
		})
	}
}

func TestReconcile_PermanentErrorIsTerminal(t *testing.T) {
	tests := map[string]error{
		"forbidden":      apierrors.NewForbidden(configMapsGR, testSourceName, errors.New("RBAC says no")),
		"invalid":        apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, testSourceName, nil),
		"bad request":    apierrors.NewBadRequest("nope"),
		"too large":      apierrors.NewRequestEntityTooLargeError("limit is 1MiB"),
		"webhook denied": apierrors.NewForbidden(configMapsGR, testSourceName, errors.New("admission webhook denied the request")),
	}
	for name, injected := range tests {
		t.Run(name, func(t *testing.T) {
			e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
			e.setFault(failCreateInB(injected))

			res, err := e.reconcile()
			require.Error(t, err)
			assert.True(t, isTerminalErr(err), "want a terminal error, got %v", err)
			assert.ErrorIs(t, err, injected)
			assert.Zero(t, res.RequeueAfter)

			cms := e.cms()
			requireCMSCondition(t, cms, syncv1.StalledCondition, metav1.ConditionTrue, syncv1.ReasonPermanentFailure)
			requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonPermanentFailure)
			assert.Equal(t, syncv1.SyncStatusFailed, cms.Status.SyncStatus)
			assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration, "a terminal failure has observed the spec")
			assert.EqualValues(t, 1, cms.Status.FailedDestinations)
			warnings := e.rec.warnings()
			require.NotEmpty(t, warnings)
			assert.Contains(t, warnings, syncv1.ReasonPermanentFailure)
			for _, w := range warnings {
				assert.Equal(t, syncv1.ReasonPermanentFailure, w)
			}

			// Stalled goes away once a sync succeeds.
			n := len(warnings)
			e.setFault(nil)
			e.mustReconcile()
			cms = e.cms()
			assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
			requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
			assert.Len(t, e.rec.warnings(), n)
		})
	}
}

func TestReconcile_ForbiddenByTerminatingNamespaceIsNotTerminal(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	injected := terminatingNamespaceForbidden("ns-b")
	require.True(t, apierrors.IsForbidden(injected))
	e.setFault(failCreateInB(injected))

	_, err := e.reconcile()
	require.Error(t, err)
	assert.False(t, isTerminalErr(err), "a namespace being deleted is not a permanent failure: %v", err)
	cms := e.cms()
	assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed)
}

// The same set of failures must be classified the same way whichever namespace sorts first.
func TestReconcile_ErrorClassificationDoesNotDependOnNamespaceOrder(t *testing.T) {
	forbidden := apierrors.NewForbidden(configMapsGR, testSourceName, errors.New("RBAC says no"))
	transient := apierrors.NewServiceUnavailable("etcd is busy")
	terminating := terminatingNamespaceForbidden("x")

	pairs := map[string][2]error{
		"RBAC forbidden and service unavailable":   {forbidden, transient},
		"RBAC forbidden and namespace terminating": {forbidden, terminating},
	}
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			run := func(first, second error) (terminal bool, stalled bool) {
				e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
				e.setFault(func(verb string, obj client.Object) error {
					if verb != "create" {
						return nil
					}
					switch obj.GetNamespace() {
					case "ns-a":
						return first
					case "ns-b":
						return second
					}
					return nil
				})
				_, err := e.reconcile()
				require.Error(t, err)
				return isTerminalErr(err), cmsCondition(e.cms(), syncv1.StalledCondition) != nil
			}
			t1, s1 := run(pair[0], pair[1])
			t2, s2 := run(pair[1], pair[0])
			assert.Equal(t, t1, t2, "terminal with (ns-a: %s, ns-b: the other) = %v, but with the namespaces swapped = %v",
				name, t1, t2)
			assert.Equal(t, s1, s2, "Stalled differs when the failing namespaces are swapped")
		})
	}
}

func TestReconcile_SourceMissing(t *testing.T) {
	t.Run("from the start", func(t *testing.T) {
		e := newCMSEnv(t, newTestCMS())
		res, err := e.reconcile()
		require.NoError(t, err)
		assert.Equal(t, 5*time.Minute, res.RequeueAfter)
		cms := e.cms()
		requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSourceNotFound)
		assert.Equal(t, syncv1.SyncStatusSourceNotFound, cms.Status.SyncStatus)
		assert.Empty(t, e.ownedCopies())
		assert.Equal(t, []string{syncv1.ReasonSourceNotFound}, e.rec.warnings())
	})

	t.Run("after copies were made", func(t *testing.T) {
		e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
		e.mustReconcile()
		copies := map[string]*corev1.ConfigMap{}
		for _, ns := range testDestinations {
			copies[ns] = e.copyIn(ns)
		}
		e.setup(func(c client.Client) {
			require.NoError(t, c.Delete(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName}}))
		})

		res, err := e.reconcile()
		require.NoError(t, err)
		assert.Equal(t, 5*time.Minute, res.RequeueAfter)
		cms := e.cms()
		requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSourceNotFound)
		assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
		for _, ns := range testDestinations {
			got := e.copyIn(ns)
			require.NotNil(t, got, "the copy in %s is kept", ns)
			assert.Equal(t, copies[ns].ResourceVersion, got.ResourceVersion, "the copy in %s is not written", ns)
		}
		for _, w := range e.recordedWrites() {
			assert.Contains(t, w, "ConfigMapSync", "only the status may be written")
		}
		assert.Equal(t, []string{syncv1.ReasonSourceNotFound}, e.rec.warnings())
	})
}

func TestReconcile_ReadingSourceFails(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.r.APIReader = interceptor.NewClient(e.client, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Name == testSourceName {
				return apierrors.NewServiceUnavailable("down")
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	_, err := e.reconcile()
	require.Error(t, err)
	assert.False(t, isTerminalErr(err))
	assert.Empty(t, e.ownedCopies())
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed)
}
