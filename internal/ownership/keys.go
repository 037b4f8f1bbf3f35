// Package ownership keeps the key the operator proves its ownership of copies with (syncer.Keys): a Secret in the
// operator's own namespace, which tenants cannot read, created by the first replica that starts and shared by all.
package ownership

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

const (
	// SecretName names the Secret holding the keys, in the operator's namespace.
	SecretName = "configmapsync-operator-ownership-key"
	// CurrentKey is the Secret's key that signs.
	CurrentKey = "current"
	// PreviousKey is the Secret's key still accepted after a rotation, until every object is signed again.
	PreviousKey = "previous"
	// AcceptUnprovenUntilAnnotation on the key Secret (RFC 3339) bounds the upgrade window: until then, an object
	// without a proof that claims a ConfigMapSync or ManagedSecret and sits exactly where that owner writes is taken
	// as the owner's and signed at its next sync (what release 0.3.0 and earlier wrote). The window opens only when
	// the key is created while objects labelled as the operator's exist already: an upgrade, or a lost key.
	AcceptUnprovenUntilAnnotation = "sync.configmapsync.io/accept-unproven-until"
)

// UpgradeWindow is how long objects written before the proof existed are accepted after the key is created.
const UpgradeWindow = 24 * time.Hour

// Keys is what Load returns: the keys, and until when unproven objects at their owner's destinations are accepted.
type Keys struct {
	syncer.Keys
	AcceptUnprovenUntil time.Time
}

// AcceptsUnproven reports whether the upgrade window is open at now.
func (k Keys) AcceptsUnproven(now time.Time) bool { return now.Before(k.AcceptUnprovenUntil) }

// Load reads the keys from the Secret SecretName in namespace through c (uncached: Load runs before the manager's
// caches start), creating it when it does not exist (the first replica to start wins; the others read what it
// wrote). copiesExist tells whether objects labelled as the operator's exist already, which opens the upgrade
// window on a new key.
func Load(ctx context.Context, c client.Client, namespace string, copiesExist func(context.Context) (bool, error)) (Keys, error) {
	key := types.NamespacedName{Namespace: namespace, Name: SecretName}
	secret := &corev1.Secret{}
	err := c.Get(ctx, key, secret)
	if apierrors.IsNotFound(err) {
		if secret, err = create(ctx, c, key, copiesExist); apierrors.IsAlreadyExists(err) {
			secret = &corev1.Secret{} // What the winner wrote, not what this replica tried to.
			err = c.Get(ctx, key, secret)
		}
	}
	if err != nil {
		return Keys{}, fmt.Errorf("reading the ownership key Secret %s: %w", key, err)
	}
	return keysOf(secret)
}

// create creates the key Secret with a new random key.
func create(ctx context.Context, c client.Client, key types.NamespacedName, copiesExist func(context.Context) (bool, error)) (*corev1.Secret, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	obj := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{
			"app.kubernetes.io/name": "configmapsync-operator", "app.kubernetes.io/component": "ownership-key",
		}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{CurrentKey: secret},
	}
	upgrade, err := copiesExist(ctx)
	if err != nil {
		return nil, err
	}
	if upgrade {
		obj.Annotations = map[string]string{AcceptUnprovenUntilAnnotation: time.Now().Add(UpgradeWindow).UTC().Format(time.RFC3339)}
	}
	return obj, c.Create(ctx, obj)
}

// keysOf reads the keys of the key Secret. A Secret without a usable current key is refused: signing with an
// empty key would prove nothing.
func keysOf(secret *corev1.Secret) (Keys, error) {
	current := secret.Data[CurrentKey]
	if len(current) < 16 {
		return Keys{}, fmt.Errorf("the ownership key Secret %s/%s has no %q key of at least 16 bytes",
			secret.Namespace, secret.Name, CurrentKey)
	}
	keys := Keys{Keys: syncer.Keys{Current: syncer.NewKey(current)}}
	if previous := secret.Data[PreviousKey]; len(previous) >= 16 {
		k := syncer.NewKey(previous)
		keys.Previous = &k
	}
	if until, ok := secret.Annotations[AcceptUnprovenUntilAnnotation]; ok {
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return Keys{}, fmt.Errorf("the ownership key Secret's %s annotation: %w", AcceptUnprovenUntilAnnotation, err)
		}
		keys.AcceptUnprovenUntil = t
	}
	return keys, nil
}

// CopiesExist reports, through an uncached reader, whether any ConfigMap or Secret carries the operator's
// managed-by label: what an earlier release (or a lost key) left. It lists core objects' metadata, one at most,
// so it needs no conversion webhook: the operator's own, which is not serving yet when the key is made.
func CopiesExist(reader client.Reader) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		for _, kind := range []string{"ConfigMapList", "SecretList"} {
			list := &metav1.PartialObjectMetadataList{}
			list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(kind))
			if err := reader.List(ctx, list, client.Limit(1),
				client.MatchingLabels{syncv1.ManagedByLabel: syncv1.ManagedByValue}); err != nil {
				return false, fmt.Errorf("listing objects labelled as the operator's: %w", err)
			}
			if len(list.Items) > 0 {
				return true, nil
			}
		}
		return false, nil
	}
}
