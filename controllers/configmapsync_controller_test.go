package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// --- fakes ----------------------------------------------------------------------------------------------------

type cmsEvent struct {
	Type, Reason, Action, Message string
}

// cmsEvents records every event it is given.
type cmsEvents struct {
	mu     sync.Mutex
	events []cmsEvent
}

var _ recorder.EventRecorder = &cmsEvents{}

func (f *cmsEvents) Eventf(_ runtime.Object, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, cmsEvent{Type: eventtype, Reason: reason, Action: action, Message: fmt.Sprintf(note, args...)})
}

func (f *cmsEvents) AnnotatedEventf(regarding, related runtime.Object, _ map[string]string, eventtype, reason, action, note string, args ...any) {
	f.Eventf(regarding, related, eventtype, reason, action, note, args...)
}

// warnings returns the reasons of the Warning events, in order.
func (f *cmsEvents) warnings() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		if e.Type == corev1.EventTypeWarning {
			out = append(out, e.Reason)
		}
	}
	return out
}

// fakeMetadata stands in for the metadata cache. It answers List of PartialObjectMetadata: namespaces from a
// fixed set, and any other kind (workloads, for rollouts) from whatever the test added, filtered by namespace.
type fakeMetadata struct {
	cache.Cache // nil: any other call panics, which is what a test should see
	mu          sync.Mutex
	items       []metav1.PartialObjectMetadata
}

func (f *fakeMetadata) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	l, ok := list.(*metav1.PartialObjectMetadataList)
	if !ok {
		return fmt.Errorf("fakeNamespaces: unexpected list type %T", list)
	}
	listGVK := l.GroupVersionKind()
	if !strings.HasSuffix(listGVK.Kind, "List") {
		return fmt.Errorf("fakeNamespaces: unexpected list kind %v", listGVK)
	}
	itemGVK := listGVK.GroupVersion().WithKind(strings.TrimSuffix(listGVK.Kind, "List"))
	o := (&client.ListOptions{}).ApplyOptions(opts)
	f.mu.Lock()
	defer f.mu.Unlock()
	l.Items = nil
	for _, item := range f.items {
		if item.GroupVersionKind() == itemGVK && (o.Namespace == "" || item.Namespace == o.Namespace) {
			l.Items = append(l.Items, *item.DeepCopy())
		}
	}
	return nil
}

func (f *fakeMetadata) add(name string, labels map[string]string, terminating bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ns := metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	ns.SetGroupVersionKind(namespaceGVK)
	if terminating {
		now := metav1.Now()
		ns.DeletionTimestamp = &now
		ns.Finalizers = []string{"kubernetes"}
	}
	f.items = append(f.items, ns)
}

// --- environment ----------------------------------------------------------------------------------------------

const (
	testCMSNamespace = "team-a"
	testCMSName      = "settings"
	testCMSUID       = types.UID("cms-uid-1")
	testSourceName   = "app-config"
)

var (
	testCMSKey       = types.NamespacedName{Namespace: testCMSNamespace, Name: testCMSName}
	testDestinations = []string{"ns-a", "ns-b", "ns-c"}
)

type writeFault func(verb string, obj client.Object) error

type cmsEnv struct {
	t      *testing.T
	client client.WithWatch
	r      *ConfigMapSyncReconciler
	rec    *cmsEvents
	ns     *fakeMetadata

	mu     sync.Mutex
	fault  writeFault
	writes []string // "verb kind namespace/name" of every write the reconciler made
}

func cmsTestScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(s))
	require.NoError(t, syncv1.AddToScheme(s))
	return s
}

// newCMSEnv returns a reconciler over a fake client holding objs, with the namespaces team-a and testDestinations.
func newCMSEnv(t *testing.T, objs ...client.Object) *cmsEnv {
	t.Helper()
	e := &cmsEnv{t: t, rec: &cmsEvents{}, ns: &fakeMetadata{}}
	for _, name := range append([]string{testCMSNamespace}, testDestinations...) {
		e.ns.add(name, nil, false)
	}
	e.client = fake.NewClientBuilder().
		WithScheme(cmsTestScheme(t)).
		WithObjects(objs...).
		WithStatusSubresource(&syncv1.ConfigMapSync{}).
		WithIndex(&corev1.ConfigMap{}, ownerUIDIndex, copyOwnerUID).
		WithIndex(&corev1.Secret{}, ownerUIDIndex, copyOwnerUID).
		WithIndex(&syncv1.ConfigMapSync{}, watchedObjectIndex, watchedObjects).
		WithIndex(&syncv1.ConfigMapSync{}, destinationNamespaceIndex, destinationNamespaces).
		WithInterceptorFuncs(e.interceptors()).
		Build()
	e.r = &ConfigMapSyncReconciler{
		Client:    e.client,
		APIReader: e.client,
		Metadata:  e.ns,
		Recorder:  e.rec,
		FanOut:    4,
	}
	return e
}

func (e *cmsEnv) interceptors() interceptor.Funcs {
	return interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := e.write("create", obj); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := e.write("update", obj); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if err := e.write("patch", obj); err != nil {
				return err
			}
			return c.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			e.mu.Lock()
			e.writes = append(e.writes, "apply")
			e.mu.Unlock()
			return c.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			if err := e.write("delete", obj); err != nil {
				return err
			}
			return c.Delete(ctx, obj, opts...)
		},
		DeleteAllOf: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			if err := e.write("deleteAllOf", obj); err != nil {
				return err
			}
			return c.DeleteAllOf(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := e.write(sub+"-patch", obj); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if err := e.write(sub+"-update", obj); err != nil {
				return err
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	}
}

// write records a write and returns the injected fault for it, if any. A failed write is recorded too.
func (e *cmsEnv) write(verb string, obj client.Object) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writes = append(e.writes, fmt.Sprintf("%s %s %s/%s", verb, typeName(obj), obj.GetNamespace(), obj.GetName()))
	if e.fault != nil {
		return e.fault(verb, obj)
	}
	return nil
}

// typeName names obj's Go type, and a metadata-only object as the type it stands for: a write to a copy reads
// "*v1.ConfigMap" whichever form the reconciler wrote it in.
func typeName(obj client.Object) string {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		return "*v1." + m.Kind
	}
	return fmt.Sprintf("%T", obj)
}

// isConfigMap reports whether obj is a ConfigMap, typed or metadata-only.
func isConfigMap(obj client.Object) bool { return typeName(obj) == "*v1.ConfigMap" }

func (e *cmsEnv) setFault(f writeFault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault = f
}

func (e *cmsEnv) resetWrites() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writes = nil
}

func (e *cmsEnv) recordedWrites() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.writes)
}

// setup writes go through the underlying (uninstrumented) path: they are the test's own, not the reconciler's.
func (e *cmsEnv) setup(fn func(c client.Client)) {
	e.t.Helper()
	e.mu.Lock()
	saved := e.fault
	e.fault = nil
	e.mu.Unlock()
	fn(e.client)
	e.mu.Lock()
	e.fault = saved
	e.mu.Unlock()
	e.resetWrites()
}

func (e *cmsEnv) reconcile() (ctrl.Result, error) {
	return e.r.Reconcile(e.t.Context(), ctrl.Request{NamespacedName: testCMSKey})
}

func (e *cmsEnv) mustReconcile() ctrl.Result {
	e.t.Helper()
	res, err := e.reconcile()
	require.NoError(e.t, err)
	return res
}

func (e *cmsEnv) cms() *syncv1.ConfigMapSync {
	e.t.Helper()
	cms := &syncv1.ConfigMapSync{}
	require.NoError(e.t, e.client.Get(e.t.Context(), testCMSKey, cms))
	return cms
}

// configMap returns the ConfigMap namespace/name, or nil when there is none.
func (e *cmsEnv) configMap(namespace, name string) *corev1.ConfigMap {
	e.t.Helper()
	cm := &corev1.ConfigMap{}
	err := e.client.Get(e.t.Context(), types.NamespacedName{Namespace: namespace, Name: name}, cm)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(e.t, err)
	return cm
}

func (e *cmsEnv) copyIn(namespace string) *corev1.ConfigMap {
	return e.configMap(namespace, testSourceName)
}

// ownedCopies lists every ConfigMap carrying the owner-uid label of the test's ConfigMapSync.
func (e *cmsEnv) ownedCopies() []corev1.ConfigMap {
	e.t.Helper()
	list := &corev1.ConfigMapList{}
	require.NoError(e.t, e.client.List(e.t.Context(), list, client.MatchingLabels{syncer.OwnerUIDLabel: string(testCMSUID)}))
	return list.Items
}

// --- fixtures -------------------------------------------------------------------------------------------------

func newTestCMS(mutate ...func(*syncv1.ConfigMapSync)) *syncv1.ConfigMapSync {
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testCMSName, UID: testCMSUID, Generation: 1},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:         syncv1.SourceReference{Kind: syncv1.SourceKindConfigMap, Namespace: testCMSNamespace, Name: testSourceName},
			Destination:    syncv1.Destination{Namespaces: slices.Clone(testDestinations)},
			SyncFrequency:  "5m",
			SyncStrategy:   syncv1.SyncStrategyAutomatic,
			DeletionPolicy: syncv1.DeletionPolicyDelete,
		},
	}
	for _, m := range mutate {
		m(cms)
	}
	return cms
}

func newSourceConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testCMSNamespace, Name: testSourceName,
			Labels:      map[string]string{"team": "payments"},
			Annotations: map[string]string{"note": "kept"},
		},
		Data:       map[string]string{"key": "value"},
		BinaryData: map[string][]byte{"bin": {0, 1, 2}},
	}
}

func cmsCondition(cms *syncv1.ConfigMapSync, t string) *metav1.Condition {
	return meta.FindStatusCondition(cms.Status.Conditions, t)
}

func requireCMSCondition(t *testing.T, cms *syncv1.ConfigMapSync, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := cmsCondition(cms, typ)
	require.NotNil(t, c, "condition %s missing; conditions: %+v", typ, cms.Status.Conditions)
	assert.Equal(t, status, c.Status, "condition %s status (message %q)", typ, c.Message)
	assert.Equal(t, reason, c.Reason, "condition %s reason (message %q)", typ, c.Message)
}

func isTerminalErr(err error) bool { return errors.Is(err, reconcile.TerminalError(nil)) }

var configMapsGR = schema.GroupResource{Resource: "configmaps"}

// failCreateInB fails creating ConfigMaps in namespace ns-b with err.
func failCreateInB(err error) writeFault {
	return func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "create" && obj.GetNamespace() == "ns-b" {
			return err
		}
		return nil
	}
}

func terminatingNamespaceForbidden(namespace string) error {
	err := apierrors.NewForbidden(configMapsGR, testSourceName,
		fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", namespace),
		Field:   "metadata.namespace",
	})
	return err
}

// --- reconcile: the happy path --------------------------------------------------------------------------------

func TestReconcile_FirstSyncAddsFinalizerAndCreatesCopies(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())

	res := e.mustReconcile()
	assert.Equal(t, 5*time.Minute, res.RequeueAfter)

	cms := e.cms()
	assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer))
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Nil(t, cmsCondition(cms, syncv1.StalledCondition))
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
	assert.EqualValues(t, 1, cms.Status.ObservedGeneration)
	assert.EqualValues(t, 3, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 3, cms.Status.SyncedDestinations)
	assert.EqualValues(t, 0, cms.Status.FailedDestinations)
	assert.Equal(t, syncv1.SyncStatusSynced, cms.Status.SyncStatus)
	assert.NotNil(t, cms.Status.LastSyncTime)
	assert.Equal(t, []syncv1.DestinationStatus{
		{Namespace: "ns-a", State: syncv1.DestinationSynced},
		{Namespace: "ns-b", State: syncv1.DestinationSynced},
		{Namespace: "ns-c", State: syncv1.DestinationSynced},
	}, cms.Status.Destinations)

	src := newSourceConfigMap()
	content, err := syncer.ContentOf(src)
	require.NoError(t, err)
	owner := syncer.OwnerOf(cms)
	for _, ns := range testDestinations {
		cp := e.copyIn(ns)
		require.NotNil(t, cp, "copy in %s", ns)
		assert.Equal(t, src.Data, cp.Data, ns)
		assert.Equal(t, src.BinaryData, cp.BinaryData, ns)
		assert.True(t, syncer.IsOwnedBy(cp, owner), ns)
		assert.Equal(t, "payments", cp.Labels["team"], ns)
		assert.Equal(t, "kept", cp.Annotations["note"], ns)
		assert.Equal(t, testCMSNamespace+"/"+testCMSName, cp.Annotations[syncer.OwnerAnnotation], ns)
		assert.Equal(t, content.Hash(), cp.Annotations[syncer.ContentHashAnnotation], ns)
	}
	assert.Nil(t, e.copyIn("kube-system"))
	assert.Empty(t, e.rec.warnings())

	// The source itself is untouched.
	got := e.configMap(testCMSNamespace, testSourceName)
	assert.Equal(t, newSourceConfigMap().Labels, got.Labels)
	assert.Equal(t, newSourceConfigMap().Annotations, got.Annotations)
}

func TestReconcile_NotFoundIsIgnored(t *testing.T) {
	e := newCMSEnv(t)
	res, err := e.reconcile()
	assert.NoError(t, err)
	assert.Equal(t, ctrl.Result{}, res)
	assert.Empty(t, e.recordedWrites())
}

func TestReconcile_NothingChangedMakesNoWrites(t *testing.T) {
	tests := map[string]struct {
		cms    *syncv1.ConfigMapSync
		source client.Object
	}{
		"configmap": {newTestCMS(), newSourceConfigMap()},
		"secret": {
			newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }),
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName, Labels: map[string]string{"team": "payments"}},
				Type:       corev1.SecretTypeTLS,
				Data:       map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")},
			},
		},
		"secret without type": {
			newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }),
			&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName},
				Data:       map[string][]byte{"a": []byte("1")},
			},
		},
		"selector": {
			newTestCMS(func(c *syncv1.ConfigMapSync) {
				c.Spec.Destination.Namespaces = []string{"ns-a"}
				c.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}
			}),
			newSourceConfigMap(),
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := newCMSEnv(t, tt.cms, tt.source)
			e.ns.add("prod-1", map[string]string{"env": "prod"}, false)
			e.mustReconcile()
			first := e.recordedWrites()
			require.NotEmpty(t, first, "the first reconcile writes")
			requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)

			for range 3 {
				e.resetWrites()
				res := e.mustReconcile()
				assert.Empty(t, e.recordedWrites(), "an unchanged resync must not write")
				assert.Equal(t, 5*time.Minute, res.RequeueAfter)
			}
			assert.Empty(t, e.rec.warnings())
		})
	}
}

func TestReconcile_SecretSourceKeepsType(t *testing.T) {
	src := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testCMSNamespace, Name: testSourceName},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")},
	}
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = syncv1.SourceKindSecret }), src)
	e.mustReconcile()
	for _, ns := range testDestinations {
		s := &corev1.Secret{}
		require.NoError(t, e.client.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: testSourceName}, s))
		assert.Equal(t, corev1.SecretTypeTLS, s.Type)
		assert.Equal(t, src.Data, s.Data)
	}
	assert.Nil(t, e.copyIn("ns-a"), "no ConfigMap is written for a Secret source")
}

func TestReconcile_RestoresHandEditedCopy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-b")
		cp.Data["key"] = "hacked" // the hash annotation still claims the old content
		require.NoError(t, c.Update(t.Context(), cp))
	})
	e.mustReconcile()
	assert.Equal(t, "value", e.copyIn("ns-b").Data["key"])
	writes := e.recordedWrites()
	assert.Contains(t, writes, "update *v1.ConfigMap ns-b/"+testSourceName)
	for _, w := range writes {
		assert.NotContains(t, w, "ns-a/")
		assert.NotContains(t, w, "ns-c/")
	}
}

func TestReconcile_SourceChangePropagates(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	before := e.cms().Status.LastSyncTime
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], ns)
	}
	require.NotNil(t, before)
	assert.NotNil(t, e.cms().Status.LastSyncTime)
}

func TestReconcile_ReplacesImmutableCopy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-a")
		cp.Immutable = cmsPtr(true)
		require.NoError(t, c.Update(t.Context(), cp))
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	writes := e.recordedWrites()
	assert.Contains(t, writes, "delete *v1.ConfigMap ns-a/"+testSourceName)
	assert.Contains(t, writes, "create *v1.ConfigMap ns-a/"+testSourceName)
	assert.Contains(t, writes, "update *v1.ConfigMap ns-b/"+testSourceName, "mutable copies are updated in place")
	assert.NotContains(t, writes, "delete *v1.ConfigMap ns-b/"+testSourceName)
	cp := e.copyIn("ns-a")
	assert.Equal(t, "new", cp.Data["key"])
	assert.Nil(t, cp.Immutable)
}

func cmsPtr[T any](v T) *T { return &v }

func TestReconcile_PrunesUnlistedNamespace(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	require.NotNil(t, e.copyIn("ns-c"))
	e.setup(func(c client.Client) {
		cms := e.cms()
		cms.Spec.Destination.Namespaces = []string{"ns-a", "ns-b"}
		cms.Generation = 2
		require.NoError(t, c.Update(t.Context(), cms))
	})
	e.mustReconcile()
	assert.Nil(t, e.copyIn("ns-c"))
	assert.NotNil(t, e.copyIn("ns-a"))
	assert.NotNil(t, e.copyIn("ns-b"))
	assert.NotNil(t, e.configMap(testCMSNamespace, testSourceName), "the source is never pruned")
	cms := e.cms()
	assert.EqualValues(t, 2, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 2, cms.Status.ObservedGeneration)
}

func TestReconcile_ConflictLeavesForeignObjectAlone(t *testing.T) {
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns-b", Name: testSourceName, Labels: map[string]string{"owner": "someone"}},
		Data:       map[string]string{"theirs": "x"},
	}
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap(), foreign)

	res, err := e.reconcile()
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, res.RequeueAfter)

	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonConflict)
	assert.Equal(t, syncv1.SyncStatusConflict, cms.Status.SyncStatus)
	assert.EqualValues(t, 1, cms.Status.FailedDestinations)
	assert.EqualValues(t, 2, cms.Status.SyncedDestinations)
	require.NotEmpty(t, cms.Status.Destinations)
	assert.Equal(t, "ns-b", cms.Status.Destinations[0].Namespace)
	assert.Equal(t, syncv1.DestinationConflict, cms.Status.Destinations[0].State)
	assert.Equal(t, []string{syncv1.ReasonConflict}, e.rec.warnings())

	got := e.copyIn("ns-b")
	assert.Equal(t, map[string]string{"theirs": "x"}, got.Data)
	assert.Equal(t, map[string]string{"owner": "someone"}, got.Labels)

	// The conflicting object is watched, so its deletion wakes the sync.
	assert.Contains(t, watchedObjects(cms), objectKey(syncer.KindConfigMap, "ns-b", testSourceName))
	list := &syncv1.ConfigMapSyncList{}
	require.NoError(t, e.client.List(t.Context(), list, client.MatchingFields{watchedObjectIndex: objectKey("ConfigMap", "ns-b", testSourceName)}))
	assert.Len(t, list.Items, 1)

	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), got)) })
	e.mustReconcile()
	requireCMSCondition(t, e.cms(), syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Equal(t, "value", e.copyIn("ns-b").Data["key"])
}

func TestReconcile_MissingListedNamespace(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Destination.Namespaces = []string{"ns-a", "not-yet"}
	}), newSourceConfigMap())
	e.mustReconcile()
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.EqualValues(t, 1, cms.Status.DesiredDestinations)
	assert.Equal(t, []syncv1.DestinationStatus{
		{Namespace: "not-yet", State: syncv1.DestinationNamespaceNotFound,
			Message: "the namespace does not exist or is being deleted; the copy is written when it appears"},
		{Namespace: "ns-a", State: syncv1.DestinationSynced},
	}, cms.Status.Destinations)
	assert.Nil(t, e.copyIn("not-yet"))
}

func TestReconcile_NeverWritesOverSource(t *testing.T) {
	// Listing the source's own namespace, and selecting it, must not make the operator write over the source.
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Destination.Namespaces = []string{testCMSNamespace, "ns-a"}
	}), newSourceConfigMap())
	e.mustReconcile()
	for _, w := range e.recordedWrites() {
		assert.NotContains(t, w, "ConfigMap "+testCMSNamespace+"/", "no write to the source namespace")
	}
	src := e.configMap(testCMSNamespace, testSourceName)
	assert.NotContains(t, src.Labels, syncer.OwnerUIDLabel)
	assert.EqualValues(t, 1, e.cms().Status.DesiredDestinations)
}

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

// --- deletion -------------------------------------------------------------------------------------------------

func TestReconcile_DeleteWithCleanupFailures(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	require.Len(t, e.ownedCopies(), 3)
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	require.NotNil(t, e.cms().DeletionTimestamp, "the finalizer holds the object")

	injected := apierrors.NewServiceUnavailable("down")
	e.setFault(func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "delete" && obj.GetNamespace() == "ns-b" {
			return injected
		}
		return nil
	})

	for i := range 2 {
		_, err := e.reconcile()
		require.Error(t, err, "attempt %d", i)
		assert.ErrorIs(t, err, injected)
		cms := e.cms()
		assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer), "the finalizer stays while a copy remains")
		requireCMSCondition(t, cms, syncv1.DeletingCondition, metav1.ConditionFalse, syncv1.ReasonCleanupFailed)
		assert.Equal(t, []string{syncv1.ReasonCleanupFailed}, e.rec.warnings(), "one Warning event, not one per retry")
		assert.Nil(t, e.copyIn("ns-a"))
		assert.NotNil(t, e.copyIn("ns-b"))
		assert.Nil(t, e.copyIn("ns-c"))
	}

	e.setFault(nil)
	res := e.mustReconcile()
	assert.Equal(t, ctrl.Result{}, res)
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone once the finalizer is removed: %v", err)
	assert.Empty(t, e.ownedCopies())
	assert.NotNil(t, e.configMap(testCMSNamespace, testSourceName), "the source is never deleted")
	assert.Equal(t, []string{syncv1.ReasonCleanupFailed}, e.rec.warnings())

	// A reconcile for the deleted object is a no-op.
	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())
}

func TestReconcile_DeleteFindsCopiesTheCacheMissed(t *testing.T) {
	// A copy made by an earlier process in a namespace no longer listed is still cleaned up: the cache holds it.
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		extra := e.copyIn("ns-a").DeepCopy()
		extra.Namespace, extra.ResourceVersion, extra.UID = "old-ns", "", ""
		require.NoError(t, c.Create(t.Context(), extra))
		require.NoError(t, c.Delete(t.Context(), e.cms()))
	})
	e.mustReconcile()
	assert.Empty(t, e.ownedCopies())
}

// TestReconcile_DeleteWritesOnlyWhatCleanupNeeds: a deletion deletes the copies and removes the finalizer, and
// patches no status onto an object that is gone once its finalizer is.
func TestReconcile_DeleteWritesOnlyWhatCleanupNeeds(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) {
		require.NoError(t, c.Delete(t.Context(), e.cms()))
		// The API server moves the generation when a deletion starts; the fake client does not.
		deleting := e.cms()
		deleting.Generation++
		require.NoError(t, c.Update(t.Context(), deleting))
	})
	e.resetWrites()
	e.mustReconcile()
	var deletes, patches []string
	for _, w := range e.recordedWrites() {
		if strings.HasPrefix(w, "delete ") {
			deletes = append(deletes, w)
		} else {
			patches = append(patches, w)
		}
	}
	assert.Len(t, deletes, len(testDestinations))
	assert.Equal(t, []string{"patch *v1.ConfigMapSync " + testCMSNamespace + "/" + testCMSKey.Name}, patches,
		"the finalizer's removal, and no status patch")
}

// TestReconcile_DeleteFindsCopiesTheCacheHasNotSeen: deletion reads the copies from the cache, which may not have
// seen a copy written a moment ago. The copy in a destination the cache does not show is read live, by name, and
// deleted too; and nothing lists copies cluster-wide.
func TestReconcile_DeleteFindsCopiesTheCacheHasNotSeen(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })

	// The reconciler's cache misses the copy in ns-b; its live reader counts the lists it is asked for.
	var liveLists atomic.Int32
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = slices.DeleteFunc(cms.Items, func(cm corev1.ConfigMap) bool { return cm.Namespace == "ns-b" })
			}
			return nil
		},
	})
	e.r.APIReader = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			liveLists.Add(1)
			return c.List(ctx, list, opts...)
		},
	})

	e.mustReconcile()
	assert.Empty(t, e.ownedCopies(), "the copy the cache had not seen is deleted too")
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone: %v", err)
	assert.Zero(t, liveLists.Load(), "deletion lists nothing on the API server")
}

// TestReconcile_OrphanedCopiesAreDeleted: a copy the cache and the live reads only see after its ConfigMapSync
// was cleaned up (written while it was being deleted) is deleted when its event arrives. Objects that only carry
// the operator's labels and an owner this process never cleaned up are not: such metadata can be forged.
func TestReconcile_OrphanedCopiesAreDeleted(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	forged := e.copyIn("ns-a").DeepCopy() // the operator's labels and annotations, someone else's UID
	forged.Name, forged.ResourceVersion, forged.UID = "forged", "", ""
	forged.Labels[syncer.OwnerUIDLabel] = "someone-elses-uid"
	e.setup(func(c client.Client) {
		require.NoError(t, c.Create(t.Context(), forged))
		require.NoError(t, c.Delete(t.Context(), e.cms()))
	})

	// Cleanup runs while neither the cache nor the API server shows the copy in ns-b yet.
	hidden := func(obj client.Object) bool { return obj.GetNamespace() == "ns-b" && obj.GetName() == testSourceName }
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = slices.DeleteFunc(cms.Items, func(cm corev1.ConfigMap) bool { return hidden(&cm) })
			}
			return nil
		},
	})
	e.r.APIReader = interceptor.NewClient(e.client, interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Namespace == "ns-b" && key.Name == testSourceName {
				return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
			}
			return c.Get(ctx, key, obj, opts...)
		},
	})
	e.mustReconcile()
	require.True(t, apierrors.IsNotFound(e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})), "cleaned up and gone")
	require.NotNil(t, e.copyIn("ns-b"), "the late copy survived the cleanup")

	// Its event arrives: the cache now shows it.
	e.r.Client, e.r.APIReader = e.client, e.client
	e.mustReconcile()
	assert.Nil(t, e.copyIn("ns-b"), "the orphan is deleted")
	assert.NotNil(t, e.configMap("ns-a", "forged"), "an object with forged ownership is never deleted")

	// Objects naming an owner this process never cleaned up are left alone.
	fresh := newCMSEnv(t, newSourceConfigMap(), forged)
	fresh.mustReconcile() // testCMSKey does not exist there
	assert.NotNil(t, fresh.configMap("ns-a", "forged"))
}

// TestReconcile_OwnWritesTheCacheHasNotSeenAreNotRepeated: the events of a sync's own writes wake it again
// before the cache has seen them all. What this process just wrote is not written again; what changed since is.
func TestReconcile_OwnWritesTheCacheHasNotSeenAreNotRepeated(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	// The reconciler's cache lags: it shows no copy at all.
	e.r.Client = interceptor.NewClient(e.client, interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if err := c.List(ctx, list, opts...); err != nil {
				return err
			}
			if cms, ok := list.(*corev1.ConfigMapList); ok {
				cms.Items = nil
			}
			return nil
		},
	})
	e.mustReconcile()
	require.Len(t, e.ownedCopies(), len(testDestinations))

	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites(), "copies just written are not written again")

	e.setup(func(c client.Client) {
		src := newSourceConfigMap()
		require.NoError(t, c.Get(t.Context(), client.ObjectKeyFromObject(src), src))
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	e.mustReconcile()
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], "a changed source is written, cache or not: %s", ns)
	}
}

func TestWrittenCopies(t *testing.T) {
	var w writtenCopies
	desired := func(rv, hash string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c", ResourceVersion: rv,
			Annotations: map[string]string{syncer.ContentHashAnnotation: hash}}}
	}
	w.record(desired("20", "h1"))
	assert.True(t, w.holds(desired("", "h1"), nil), "the cache shows no copy yet")
	assert.True(t, w.holds(desired("", "h1"), desired("10", "old")), "the cache shows an older version")
	assert.False(t, w.holds(desired("", "h2"), nil), "another content is wanted now")
	assert.False(t, w.holds(desired("", "h1"), desired("30", "edited")), "the cache shows a later change (a hand edit)")
	assert.False(t, w.holds(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c",
		Annotations: map[string]string{syncer.ContentHashAnnotation: "h1"}}}, nil), "a Secret of that name is another copy")

	w.observe(desired("10", "old"))
	assert.True(t, w.holds(desired("", "h1"), nil), "an older event keeps the write remembered")
	w.observe(desired("20", "h1"))
	assert.False(t, w.holds(desired("", "h1"), nil), "once the cache has the write, the cache decides")
	assert.Empty(t, w.m)

	w.record(desired("40", "h3"))
	w.forget(desired("", ""))
	assert.Empty(t, w.m)
}

func TestReconcile_DeleteLeavesObjectsItDoesNotOwn(t *testing.T) {
	// An object that carries the owner-uid label but not the operator's managed-by label is, by syncer.IsOwnedBy,
	// not the operator's: sync treats it as a conflict and leaves it alone. Cleanup must not delete or modify it
	// either, whatever the deletion policy.
	for _, policy := range []syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan} {
		t.Run(string(policy), func(t *testing.T) {
			e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = policy }), newSourceConfigMap())
			e.mustReconcile()
			adopted := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "adopted", Labels: map[string]string{
					syncer.ManagedByLabel: "Helm",
					syncer.OwnerUIDLabel:  string(testCMSUID),
				}},
				Data: map[string]string{"theirs": "x"},
			}
			require.False(t, syncer.IsOwnedBy(adopted, syncer.Owner{UID: testCMSUID}))
			e.setup(func(c client.Client) {
				require.NoError(t, c.Create(t.Context(), adopted))
				require.NoError(t, c.Delete(t.Context(), e.cms()))
			})

			e.mustReconcile()
			got := e.configMap("other", "adopted")
			require.NotNil(t, got, "cleanup deleted an object the operator does not own")
			assert.Equal(t, adopted.Labels, got.Labels, "cleanup modified an object the operator does not own")
			for _, w := range e.recordedWrites() {
				assert.NotContains(t, w, "other/adopted")
			}
		})
	}
}

func TestReconcile_DeletionPolicyOrphan(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan }), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })

	e.mustReconcile()
	err := e.client.Get(t.Context(), testCMSKey, &syncv1.ConfigMapSync{})
	assert.True(t, apierrors.IsNotFound(err), "the ConfigMapSync is gone: %v", err)

	src := newSourceConfigMap()
	for _, ns := range testDestinations {
		cp := e.copyIn(ns)
		require.NotNil(t, cp, "the copy in %s is kept", ns)
		assert.Equal(t, src.Data, cp.Data, ns)
		assert.Equal(t, src.BinaryData, cp.BinaryData, ns)
		assert.Equal(t, map[string]string{"team": "payments"}, cp.Labels, ns)
		assert.Equal(t, map[string]string{"note": "kept"}, cp.Annotations, ns)
		_, owned := syncer.OwnerKey(cp)
		assert.False(t, owned)
	}
	assert.Empty(t, e.ownedCopies())
	for _, w := range e.recordedWrites() {
		assert.NotContains(t, w, "delete *v1.ConfigMap", "Orphan deletes no copy")
	}
}

func TestReconcile_DeletionPolicyOrphanWithFailures(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan }), newSourceConfigMap())
	e.mustReconcile()
	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	e.setFault(func(verb string, obj client.Object) error {
		if isConfigMap(obj) && verb == "patch" && obj.GetNamespace() == "ns-c" {
			return apierrors.NewServiceUnavailable("down")
		}
		return nil
	})
	_, err := e.reconcile()
	require.Error(t, err)
	cms := e.cms()
	assert.True(t, controllerutil.ContainsFinalizer(cms, syncv1.Finalizer))
	requireCMSCondition(t, cms, syncv1.DeletingCondition, metav1.ConditionFalse, syncv1.ReasonCleanupFailed)
	assert.Contains(t, cmsCondition(cms, syncv1.DeletingCondition).Message, "release 1 of 3")

	e.setFault(nil)
	e.mustReconcile()
	assert.Empty(t, e.ownedCopies())
	for _, ns := range testDestinations {
		assert.NotNil(t, e.copyIn(ns))
	}
}

// --- Manual strategy ------------------------------------------------------------------------------------------

func TestReconcile_ManualStrategy(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }), newSourceConfigMap())

	res := e.mustReconcile()
	assert.Zero(t, res.RequeueAfter, "Manual does not resync on a timer")
	cms := e.cms()
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	for _, ns := range testDestinations {
		require.NotNil(t, e.copyIn(ns))
	}

	// A changed source is not synced without a request.
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "new"
		require.NoError(t, c.Update(t.Context(), src))
	})
	res = e.mustReconcile()
	assert.Zero(t, res.RequeueAfter)
	assert.Empty(t, e.recordedWrites(), "Manual writes nothing without a sync request")
	assert.Equal(t, "value", e.copyIn("ns-a").Data["key"])

	// A hand-edited copy is not restored either.
	e.setup(func(c client.Client) {
		cp := e.copyIn("ns-b")
		cp.Data["key"] = "hacked"
		require.NoError(t, c.Update(t.Context(), cp))
	})
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())

	// A sync request syncs once and is recorded.
	e.setup(func(c client.Client) {
		cms := e.cms()
		metav1.SetMetaDataAnnotation(&cms.ObjectMeta, syncv1.SyncNowAnnotation, "2024-01-01T00:00:00Z")
		require.NoError(t, c.Update(t.Context(), cms))
	})
	res = e.mustReconcile()
	assert.Zero(t, res.RequeueAfter)
	for _, ns := range testDestinations {
		assert.Equal(t, "new", e.copyIn(ns).Data["key"], ns)
	}
	cms = e.cms()
	assert.Equal(t, "2024-01-01T00:00:00Z", cms.Status.LastHandledSyncRequest)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)

	// The same request is not handled twice.
	e.resetWrites()
	e.mustReconcile()
	assert.Empty(t, e.recordedWrites())

	// A new spec generation syncs.
	e.setup(func(c client.Client) {
		src := e.configMap(testCMSNamespace, testSourceName)
		src.Data["key"] = "newer"
		require.NoError(t, c.Update(t.Context(), src))
		cms := e.cms()
		cms.Spec.SyncFrequency = "10m"
		cms.Generation = 2
		require.NoError(t, c.Update(t.Context(), cms))
	})
	e.mustReconcile()
	assert.Equal(t, "newer", e.copyIn("ns-a").Data["key"])
	assert.EqualValues(t, 2, e.cms().Status.ObservedGeneration)
}

func TestReconcile_ManualSyncRequestFailingTransientlyIsRetried(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.SyncStrategy = syncv1.SyncStrategyManual
		c.Annotations = map[string]string{syncv1.SyncNowAnnotation: "r1"}
	}), newSourceConfigMap())
	e.setFault(failCreateInB(apierrors.NewServiceUnavailable("down")))
	_, err := e.reconcile()
	require.Error(t, err)
	assert.Empty(t, e.cms().Status.LastHandledSyncRequest, "a failed request is not marked handled")

	e.setFault(nil)
	e.mustReconcile()
	assert.NotNil(t, e.copyIn("ns-b"))
	assert.Equal(t, "r1", e.cms().Status.LastHandledSyncRequest)
}

func TestReconcile_ManualFirstSyncFailingTransientlyIsRetried(t *testing.T) {
	// Without a sync request, the first sync of a Manual ConfigMapSync is only due while observedGeneration lags:
	// a transient failure must leave it lagging, or the copy is never made.
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }), newSourceConfigMap())
	e.setFault(failCreateInB(apierrors.NewServiceUnavailable("down")))
	_, err := e.reconcile()
	require.Error(t, err)

	e.setFault(nil)
	e.mustReconcile()
	assert.NotNil(t, e.copyIn("ns-b"), "the failed destination is retried")
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionTrue, syncv1.ReasonSynced)
	assert.Equal(t, cms.Generation, cms.Status.ObservedGeneration)
}

// Under Manual, a ConfigMapSync created before its source says the copies are made "when it returns"; they must be.
func TestReconcile_ManualStrategySyncsWhenSourceAppearsAfterCreation(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(func(c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = syncv1.SyncStrategyManual }))
	e.mustReconcile()
	cms := e.cms()
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSourceNotFound)
	assert.Contains(t, cmsCondition(cms, syncv1.ReadyCondition).Message, "synced when it returns")

	e.setup(func(c client.Client) { require.NoError(t, c.Create(t.Context(), newSourceConfigMap())) })
	e.mustReconcile() // what the source watch triggers
	cms = e.cms()
	assert.NotNil(t, e.copyIn("ns-a"), "the source appeared but no copy was made")
	if c := cmsCondition(cms, syncv1.ReadyCondition); assert.NotNil(t, c) {
		assert.NotEqual(t, syncv1.ReasonSourceNotFound, c.Reason, "Ready still says SourceNotFound though the source exists")
	}
}

// --- status ---------------------------------------------------------------------------------------------------

func TestDestinationStatuses_BoundedWithAttentionFirst(t *testing.T) {
	var out outcome
	for i := range 60 {
		d := destinationResult{namespace: fmt.Sprintf("ns-%02d", i), action: syncer.ActionNone}
		switch i {
		case 55, 57:
			d.err = errors.New("create failed")
		case 58:
			d.action = syncer.ActionConflict
		}
		out.destinations = append(out.destinations, d)
	}
	out.missing = []string{"zz-missing"}

	list, synced, conflicts, failed := destinationStatuses(out)
	assert.Equal(t, 57, synced)
	assert.Equal(t, 1, conflicts)
	assert.Equal(t, 2, failed)
	require.Len(t, list, maxDestinationStatuses)
	require.Equal(t, 50, maxDestinationStatuses)

	assert.Equal(t, syncv1.DestinationStatus{Namespace: "ns-55", State: syncv1.DestinationFailed, Message: "create failed"}, list[0])
	assert.Equal(t, "ns-57", list[1].Namespace)
	assert.Equal(t, syncv1.DestinationFailed, list[1].State)
	assert.Equal(t, "ns-58", list[2].Namespace)
	assert.Equal(t, syncv1.DestinationConflict, list[2].State)
	assert.Equal(t, "zz-missing", list[3].Namespace)
	assert.Equal(t, syncv1.DestinationNamespaceNotFound, list[3].State)
	for i, s := range list[4:] {
		assert.Equal(t, syncv1.DestinationSynced, s.State, "entry %d", i+4)
	}
	// The synced ones are in namespace order.
	assert.Equal(t, "ns-00", list[4].Namespace)
	assert.True(t, slices.IsSortedFunc(list[4:], func(a, b syncv1.DestinationStatus) int {
		if a.Namespace < b.Namespace {
			return -1
		}
		return 1
	}))
	seen := map[string]bool{}
	for _, s := range list {
		assert.False(t, seen[s.Namespace], "duplicate %s", s.Namespace)
		seen[s.Namespace] = true
	}
}

func TestRecordStatus_CountsCoverAllDestinations(t *testing.T) {
	var out outcome
	for i := range 60 {
		d := destinationResult{namespace: fmt.Sprintf("ns-%02d", i), action: syncer.ActionCreate}
		if i == 59 {
			d.err = apierrors.NewServiceUnavailable("down")
		}
		out.destinations = append(out.destinations, d)
	}
	cms := newTestCMS()
	recordStatus(cms, out, errors.New("one failed"), time.Now())

	assert.Len(t, cms.Status.Destinations, maxDestinationStatuses)
	assert.Equal(t, "ns-59", cms.Status.Destinations[0].Namespace)
	assert.Equal(t, syncv1.DestinationFailed, cms.Status.Destinations[0].State)
	assert.EqualValues(t, 60, cms.Status.DesiredDestinations)
	assert.EqualValues(t, 59, cms.Status.SyncedDestinations)
	assert.EqualValues(t, 1, cms.Status.FailedDestinations)
	requireCMSCondition(t, cms, syncv1.ReadyCondition, metav1.ConditionFalse, syncv1.ReasonSyncFailed)
	assert.Equal(t, syncv1.SyncStatusPartiallySynced, cms.Status.SyncStatus)
}

func TestRecordStatus_TruncatesLongMessages(t *testing.T) {
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'x'
	}
	out := outcome{destinations: []destinationResult{{namespace: "ns-a", err: errors.New(string(long))}}}
	cms := newTestCMS()
	recordStatus(cms, out, reconcile.TerminalError(errors.New(string(long))), time.Now())
	assert.LessOrEqual(t, len(cms.Status.Destinations[0].Message), maxMessage)
	for _, c := range cms.Status.Conditions {
		assert.LessOrEqual(t, len(c.Message), maxMessage, c.Type)
	}
}

func TestRecordStatus_LastSyncTimeMovesOnlyOnChange(t *testing.T) {
	cms := newTestCMS()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	synced := outcome{destinations: []destinationResult{{namespace: "ns-a", action: syncer.ActionCreate}}, writes: 1}
	recordStatus(cms, synced, nil, t0)
	require.NotNil(t, cms.Status.LastSyncTime)
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0))

	unchanged := outcome{destinations: []destinationResult{{namespace: "ns-a", action: syncer.ActionNone}}}
	recordStatus(cms, unchanged, nil, t0.Add(time.Hour))
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0), "an unchanged resync leaves lastSyncTime")

	recordStatus(cms, synced, nil, t0.Add(2*time.Hour))
	assert.True(t, cms.Status.LastSyncTime.Time.Equal(t0.Add(2*time.Hour)))
}

// --- helpers and indexes --------------------------------------------------------------------------------------

func TestIndexFuncs(t *testing.T) {
	cms := newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Source.Namespace = ""
		c.Spec.Destination.Name = "renamed"
		c.Status.Destinations = []syncv1.DestinationStatus{
			{Namespace: "ns-a", State: syncv1.DestinationSynced},
			{Namespace: "ns-b", State: syncv1.DestinationConflict},
			{Namespace: "ns-c", State: syncv1.DestinationFailed},
		}
	})
	assert.Equal(t, []string{"ConfigMap/team-a/app-config", "ConfigMap/ns-b/renamed"}, watchedObjects(cms))
	assert.Equal(t, testDestinations, destinationNamespaces(cms))

	cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{}
	assert.Equal(t, append(slices.Clone(testDestinations), anyNamespace), destinationNamespaces(cms))
	assert.Equal(t, testDestinations, cms.Spec.Destination.Namespaces, "the index func must not modify the spec")
}

func TestOwnerOfCopy(t *testing.T) {
	src := newSourceConfigMap()
	content, err := syncer.ContentOf(src)
	require.NoError(t, err)
	cp := syncer.Desired(src, content, "ns-a", testSourceName, syncer.OwnerOf(newTestCMS()))
	assert.Equal(t, []reconcile.Request{{NamespacedName: testCMSKey}}, ownerOfCopy(t.Context(), cp))
	assert.Nil(t, ownerOfCopy(t.Context(), src))
}

// TestCopyEvents: the echo of the operator's own write wakes nobody; any other version of a copy wakes its
// owner; a deleted copy wakes its owner (to restore it), unless the owner is gone or being deleted, when the
// deletion is the owner's own cleanup.
func TestCopyEvents(t *testing.T) {
	e := newCMSEnv(t, newTestCMS(), newSourceConfigMap())
	e.mustReconcile()
	cp := e.copyIn("ns-a")
	queued := func(ev func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request])) int {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		defer q.ShutDown()
		ev(e.r.copyEvents(), q)
		return q.Len()
	}
	deleted := func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Delete(t.Context(), event.DeleteEvent{Object: cp}, q)
	}
	created := func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Create(t.Context(), event.CreateEvent{Object: cp}, q)
	}
	updated := func(obj client.Object) func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		return func(h handler.EventHandler, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			h.Update(t.Context(), event.UpdateEvent{ObjectOld: cp, ObjectNew: obj}, q)
		}
	}
	assert.Equal(t, 0, queued(created), "the echo of the operator's own create wakes nobody")
	assert.Equal(t, 1, queued(created), "the same version seen again (a relist) wakes the owner")
	tampered := cp.DeepCopy()
	tampered.Data = map[string]string{"key": "edited by hand"}
	e.setup(func(c client.Client) { require.NoError(t, c.Update(t.Context(), tampered)) })
	assert.Equal(t, 1, queued(updated(tampered)), "a hand edit wakes the owner")
	e.mustReconcile()
	restored := e.copyIn("ns-a")
	require.NotEqual(t, tampered.ResourceVersion, restored.ResourceVersion)
	assert.Equal(t, 0, queued(updated(restored)), "the echo of the operator's own update wakes nobody")
	assert.Equal(t, 1, queued(deleted), "a copy deleted by someone is restored")

	e.setup(func(c client.Client) { require.NoError(t, c.Delete(t.Context(), e.cms())) })
	assert.Equal(t, 0, queued(deleted), "the owner's own cleanup does not wake it")
	assert.Equal(t, 1, queued(created), "a copy appearing while its owner goes wakes it (orphan cleanup)")
}

func TestWritesInFlight(t *testing.T) {
	assert.Equal(t, 16, writesInFlight(16, 1<<10), "small copies: the configured parallelism")
	assert.Equal(t, 16, writesInFlight(16, 100<<10))
	assert.Equal(t, 8, writesInFlight(16, 1<<20), "1 MiB copies: 8 MiB in flight")
	assert.Equal(t, 1, writesInFlight(16, 64<<20), "always at least one")
	assert.Equal(t, 4, writesInFlight(4, 0), "an empty source")
}

func TestHelpers(t *testing.T) {
	cms := newTestCMS(func(c *syncv1.ConfigMapSync) {
		c.Spec.Source.Kind = ""
		c.Spec.Source.Namespace = ""
		c.Spec.SyncFrequency = ""
	})
	assert.Equal(t, syncv1.SourceKindConfigMap, sourceKind(cms))
	assert.Equal(t, testCMSNamespace, sourceNamespace(cms))
	assert.Equal(t, testSourceName, copyName(cms, testSourceName))
	assert.Equal(t, 5*time.Minute, syncFrequency(cms))
	for _, bad := range []string{"", "nonsense", "-1m", "0s"} {
		cms.Spec.SyncFrequency = bad
		assert.Equal(t, 5*time.Minute, syncFrequency(cms), bad)
	}
	cms.Spec.SyncFrequency = "30s"
	assert.Equal(t, 30*time.Second, syncFrequency(cms))
	cms.Spec.Destination.Name = "other"
	assert.Equal(t, "other", copyName(cms, testSourceName))
}

func TestSyncDue(t *testing.T) {
	tests := []struct {
		name     string
		strategy syncv1.SyncStrategy
		observed int64
		request  string
		handled  string
		want     bool
	}{
		{"automatic always", syncv1.SyncStrategyAutomatic, 1, "", "", true},
		{"manual, new generation", syncv1.SyncStrategyManual, 0, "", "", true},
		{"manual, nothing new", syncv1.SyncStrategyManual, 1, "", "", false},
		{"manual, request handled", syncv1.SyncStrategyManual, 1, "r1", "r1", false},
		{"manual, new request", syncv1.SyncStrategyManual, 1, "r2", "r1", true},
		{"manual, request removed", syncv1.SyncStrategyManual, 1, "", "r1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cms := newTestCMS(func(c *syncv1.ConfigMapSync) {
				c.Spec.SyncStrategy = tt.strategy
				c.Status.ObservedGeneration = tt.observed
				c.Status.LastHandledSyncRequest = tt.handled
				if tt.request != "" {
					c.Annotations = map[string]string{syncv1.SyncNowAnnotation: tt.request}
				}
			})
			assert.Equal(t, tt.want, syncDue(cms))
		})
	}
}

func TestClassify(t *testing.T) {
	assert.NoError(t, classify(nil))
	plain := errors.New("plain")
	assert.False(t, isTerminalErr(classify(plain)))
	forbidden := fmt.Errorf("create: %w", apierrors.NewForbidden(configMapsGR, "x", errors.New("no")))
	assert.True(t, isTerminalErr(classify(forbidden)), "wrapped Forbidden")
	assert.True(t, isTerminalErr(classify(errors.Join(nil, forbidden))), "joined Forbidden")
	assert.False(t, isTerminalErr(classify(fmt.Errorf("create: %w", terminatingNamespaceForbidden("ns")))))
	assert.False(t, isTerminalErr(classify(apierrors.NewConflict(configMapsGR, "x", errors.New("rv")))))
	assert.False(t, isTerminalErr(classify(apierrors.NewNotFound(configMapsGR, "x"))))
}

// TestSkipStatusOnlyChanges: the echo of the operator's status patch wakes nobody; every change a sync acts on does.
func TestSkipStatusOnlyChanges(t *testing.T) {
	old := newTestCMS()
	old.Generation = 1
	old.Finalizers = []string{syncv1.Finalizer}
	changed := func(mutate func(c *syncv1.ConfigMapSync)) bool {
		n := old.DeepCopy()
		mutate(n)
		return skipStatusOnlyChanges.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: n})
	}
	assert.False(t, changed(func(c *syncv1.ConfigMapSync) {
		c.ResourceVersion = "2"
		c.Status.SyncStatus = syncv1.SyncStatusSynced
	}), "status only")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Generation = 2 }), "spec")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.DeletionTimestamp = &metav1.Time{Time: time.Now()} }), "deletion")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) {
		c.Annotations = map[string]string{syncv1.SyncNowAnnotation: "1"}
	}), "sync-now request")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Finalizers = nil }), "finalizer removed by someone")
	assert.True(t, changed(func(c *syncv1.ConfigMapSync) { c.Labels = map[string]string{"team": "b"} }), "labels")
}
