package ownership

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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

const namespace = "configmapsync-system"

var secretKey = types.NamespacedName{Namespace: namespace, Name: SecretName}

func owners(exist bool) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) { return exist, nil }
}

func stored(t *testing.T, c client.Client) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	require.NoError(t, c.Get(context.Background(), secretKey, s))
	return s
}

func keySecret(data map[string][]byte, annotations map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: SecretName, Annotations: annotations}, Data: data}
}

func TestLoad_CreatesTheKeyWhenAbsent(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	keys, err := Load(context.Background(), c, namespace, owners(false))
	require.NoError(t, err)

	s := stored(t, c)
	require.Len(t, s.Data[CurrentKey], 32)
	assert.Equal(t, syncer.NewKey(s.Data[CurrentKey]), keys.Current, "the key signs with what the Secret holds")
	assert.Nil(t, keys.Previous)
	assert.NotContains(t, s.Data, PreviousKey)
	assert.Equal(t, corev1.SecretTypeOpaque, s.Type)
	assert.Equal(t, "ownership-key", s.Labels["app.kubernetes.io/component"])
	assert.NotContains(t, s.Annotations, AcceptUnprovenUntilAnnotation, "a fresh install has nothing written before proofs")
	assert.True(t, keys.AcceptUnprovenUntil.IsZero())
	assert.False(t, keys.AcceptsUnproven(time.Now()))

	again, err := Load(context.Background(), c, namespace, owners(true))
	require.NoError(t, err)
	assert.Equal(t, keys, again, "a second Load (another replica, a restart) reads the same key")
	assert.NotContains(t, stored(t, c).Annotations, AcceptUnprovenUntilAnnotation, "owners found later open no window")
}

func TestLoad_KeysAreRandom(t *testing.T) {
	a, err := Load(context.Background(), fake.NewClientBuilder().Build(), namespace, owners(false))
	require.NoError(t, err)
	b, err := Load(context.Background(), fake.NewClientBuilder().Build(), namespace, owners(false))
	require.NoError(t, err)
	assert.NotEqual(t, a.Current.Secret, b.Current.Secret)
}

func TestLoad_OpensTheUpgradeWindowOnlyWhenCopiesExist(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	before := time.Now()
	keys, err := Load(context.Background(), c, namespace, owners(true))
	require.NoError(t, err)

	until, err := time.Parse(time.RFC3339, stored(t, c).Annotations[AcceptUnprovenUntilAnnotation])
	require.NoError(t, err)
	assert.WithinDuration(t, before.Add(UpgradeWindow), until, 2*time.Second)
	assert.Equal(t, until, keys.AcceptUnprovenUntil)
	assert.True(t, keys.AcceptsUnproven(time.Now()))
	assert.False(t, keys.AcceptsUnproven(until), "the window closes at its end")
	assert.False(t, keys.AcceptsUnproven(before.Add(UpgradeWindow+time.Minute)))

	again, err := Load(context.Background(), c, namespace, owners(false))
	require.NoError(t, err)
	assert.Equal(t, keys.AcceptUnprovenUntil, again.AcceptUnprovenUntil, "the window stays what the creator set")
}

func TestLoad_CopiesExistFailing(t *testing.T) {
	c := fake.NewClientBuilder().Build()
	_, err := Load(context.Background(), c, namespace, func(context.Context) (bool, error) { return false, errors.New("list refused") })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "list refused")
	assert.True(t, apierrors.IsNotFound(c.Get(context.Background(), secretKey, &corev1.Secret{})), "no key is created blind")
}

func TestLoad_LosesTheRaceToAnotherReplica(t *testing.T) {
	winner := keySecret(map[string][]byte{CurrentKey: []byte("the-winning-replicas-key-0123456")}, nil)
	var creates int
	c := interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			creates++
			// Another replica creates the Secret between this one's Get and Create.
			require.NoError(t, c.Create(ctx, winner.DeepCopy()))
			return c.Create(ctx, obj, opts...)
		},
	})
	keys, err := Load(context.Background(), c, namespace, owners(true))
	require.NoError(t, err)
	assert.Equal(t, 1, creates)
	assert.Equal(t, syncer.NewKey(winner.Data[CurrentKey]), keys.Current, "the stored key, not the one that lost")
	assert.True(t, keys.AcceptUnprovenUntil.IsZero(), "nor the loser's upgrade window")
	assert.Equal(t, winner.Data, stored(t, c).Data)
}

func TestLoad_CreateFailing(t *testing.T) {
	c := interceptor.NewClient(fake.NewClientBuilder().Build(), interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			return apierrors.NewForbidden(corev1.Resource("secrets"), SecretName, errors.New("no RBAC"))
		},
	})
	_, err := Load(context.Background(), c, namespace, owners(false))
	require.Error(t, err)
	assert.True(t, apierrors.IsForbidden(err), "the cause is kept: %v", err)
	assert.Contains(t, err.Error(), secretKey.String())
}

func TestLoad_RefusesAShortKey(t *testing.T) {
	for name, data := range map[string]map[string][]byte{
		"short":   {CurrentKey: []byte("fifteen-bytes!!")},
		"empty":   {CurrentKey: {}},
		"missing": {PreviousKey: []byte("a-previous-key-long-enough")},
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithObjects(keySecret(data, nil)).Build()
			_, err := Load(context.Background(), c, namespace, owners(false))
			require.Error(t, err)
			assert.Contains(t, err.Error(), secretKey.String(), "names the Secret")
			assert.Contains(t, err.Error(), `"current"`, "names the key")
			assert.Contains(t, err.Error(), "at least 16 bytes", "states the rule")
			for _, v := range data {
				if len(v) > 0 {
					assert.NotContains(t, err.Error(), string(v), "never the key itself")
				}
			}
			assert.Equal(t, data, stored(t, c).Data, "a refused Secret is left for its owner to fix, not overwritten")
		})
	}
}

func TestLoad_PreviousKey(t *testing.T) {
	current, previous := []byte("the-current-key-0123456789abcdef"), []byte("the-previous-key-0123456789abcde")
	c := fake.NewClientBuilder().WithObjects(keySecret(map[string][]byte{CurrentKey: current, PreviousKey: previous}, nil)).Build()
	keys, err := Load(context.Background(), c, namespace, owners(false))
	require.NoError(t, err)
	assert.Equal(t, syncer.NewKey(current), keys.Current)
	require.NotNil(t, keys.Previous)
	assert.Equal(t, syncer.NewKey(previous), *keys.Previous)

	// A copy signed before the rotation is still the operator's, and is signed again at its next write.
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "settings",
		Labels:      map[string]string{syncv1.OwnerUIDLabel: "uid-1"},
		Annotations: map[string]string{syncv1.OwnershipProofAnnotation: syncer.Keys{Current: syncer.NewKey(previous)}.Proof("uid-1", syncer.KindConfigMap, "team-b", "settings")}}}
	assert.Equal(t, syncer.ProvenByPrevious, keys.Verify(obj, syncer.KindConfigMap))

	short := fake.NewClientBuilder().WithObjects(keySecret(map[string][]byte{CurrentKey: current, PreviousKey: []byte("short")}, nil)).Build()
	keys, err = Load(context.Background(), short, namespace, owners(false))
	require.NoError(t, err)
	assert.Nil(t, keys.Previous, "a previous key too short to prove anything is ignored")
}

func TestLoad_BadWindowAnnotation(t *testing.T) {
	c := fake.NewClientBuilder().WithObjects(keySecret(map[string][]byte{CurrentKey: []byte("the-current-key-0123456789abcdef")},
		map[string]string{AcceptUnprovenUntilAnnotation: "tomorrow"})).Build()
	_, err := Load(context.Background(), c, namespace, owners(false))
	require.Error(t, err)
	assert.Contains(t, err.Error(), AcceptUnprovenUntilAnnotation)
}

func TestCopiesExist(t *testing.T) {
	scheme := runtime.NewScheme()
	require.NoError(t, clientgoscheme.AddToScheme(scheme))
	require.NoError(t, syncv1.AddToScheme(scheme))
	labelled := map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue}
	for name, tt := range map[string]struct {
		objs []client.Object
		want bool
	}{
		"none": {nil, false},
		"only unlabelled objects and owners": {[]client.Object{
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "c"}},
			&syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "s"}},
		}, false},
		"a labelled ConfigMap": {[]client.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "c", Labels: labelled}}}, true},
		"a labelled Secret":    {[]client.Object{&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "s", Labels: labelled}}}, true},
	} {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(tt.objs...).Build()
			got, err := CopiesExist(c)(context.Background())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}

	failing := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			return errors.New("boom")
		},
	})
	_, err := CopiesExist(failing)(context.Background())
	assert.ErrorContains(t, err, "listing objects labelled as the operator's")
}
