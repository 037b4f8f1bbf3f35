package configmapsync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/copystore"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
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
func (f *cmsEvents) warnings() []string { return f.reasons(corev1.EventTypeWarning) }

// normals returns the reasons of the Normal events, in order.
func (f *cmsEvents) normals() []string { return f.reasons(corev1.EventTypeNormal) }

func (f *cmsEvents) reasons(eventType string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.events {
		if e.Type == eventType {
			out = append(out, e.Reason)
		}
	}
	return out
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
	r      *Reconciler
	rec    *cmsEvents
	ns     *testkit.Metadata

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
	e := &cmsEnv{t: t, rec: &cmsEvents{}, ns: &testkit.Metadata{}}
	for _, name := range append([]string{testCMSNamespace}, testDestinations...) {
		e.ns.AddNamespace(name, nil, false)
	}
	e.client = fake.NewClientBuilder().
		WithScheme(cmsTestScheme(t)).
		WithObjects(objs...).
		WithStatusSubresource(&syncv1.ConfigMapSync{}).
		WithIndex(&syncv1.ConfigMapSync{}, watchedObjectIndex, watchedObjects).
		WithIndex(&syncv1.ConfigMapSync{}, destinationNamespaceIndex, destinationNamespaces).
		WithInterceptorFuncs(e.interceptors()).
		Build()
	e.r = &Reconciler{
		Client:            e.client,
		APIReader:         e.client,
		Metadata:          e.ns,
		Recorder:          e.rec,
		MaxParallelWrites: 4,
		Copies:            copystore.NewDirect(e.client, testKeys),
	}
	return e
}

// testKeys are the ownership keys of the unit tests' reconcilers.
var testKeys = syncer.Keys{Current: syncer.NewKey([]byte("unit-test-ownership-key-32-bytes"))}

func (e *cmsEnv) interceptors() interceptor.Funcs {
	funcs := testkit.WriteTap(e.write)
	funcs.Apply = func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
		e.mu.Lock()
		e.writes = append(e.writes, "apply")
		e.mu.Unlock()
		return c.Apply(ctx, obj, opts...)
	}
	return funcs
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
	require.NoError(e.t, e.client.List(e.t.Context(), list, client.MatchingLabels{syncv1.OwnerUIDLabel: string(testCMSUID)}))
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
