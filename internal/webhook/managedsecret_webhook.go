package webhook

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// +kubebuilder:webhook:path=/mutate-sync-configmapsync-io-v1-managedsecret,mutating=true,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=managedsecrets,verbs=create;update,versions=v1,name=mmanagedsecret-v1.sync.configmapsync.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-sync-configmapsync-io-v1-managedsecret,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=managedsecrets,verbs=create;update,versions=v1,name=vmanagedsecret-v1.sync.configmapsync.io,admissionReviewVersions=v1

// SetupManagedSecretWebhook registers the defaulting and validating webhooks of ManagedSecret.
func SetupManagedSecretWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &syncv1.ManagedSecret{}).
		WithDefaulter(ManagedSecretDefaulter{}).
		WithValidator(ManagedSecretValidator{Authorizer: Authorizer{Client: mgr.GetClient(), Decisions: &access.Decisions{}}}).
		Complete()
}

// ManagedSecretDefaulter applies each key's type: it runs before the schema's rules, so a key written by a form
// with every generator's defaults, and a type, passes the schema's "exactly one of".
type ManagedSecretDefaulter struct{}

var _ admission.Defaulter[*syncv1.ManagedSecret] = ManagedSecretDefaulter{}

// Default keeps, in each key with a type, only the member the type names, and refuses a key whose type would
// drop its literal.
func (ManagedSecretDefaulter) Default(_ context.Context, ms *syncv1.ManagedSecret) error {
	var errs field.ErrorList
	keys := field.NewPath("spec", "keys")
	for i := range ms.Spec.Keys {
		if err := ms.Spec.Keys[i].ApplyType(keys.Index(i)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(syncv1.GroupVersion.WithKind("ManagedSecret").GroupKind(), ms.Name, errs)
	}
	return nil
}

// ManagedSecretValidator checks what the schema cannot of a ManagedSecret's rollout, and that the requesting user
// may restart the workloads a rollout would restart: the operator's ServiceAccount may patch every workload.
type ManagedSecretValidator struct {
	Authorizer Authorizer
}

var _ admission.Validator[*syncv1.ManagedSecret] = ManagedSecretValidator{}

// ValidateCreate validates a new ManagedSecret and, with rollouts on, the requesting user's rights.
func (v ManagedSecretValidator) ValidateCreate(ctx context.Context, ms *syncv1.ManagedSecret) (admission.Warnings, error) {
	return v.validate(ctx, nil, ms)
}

// ValidateUpdate validates a changed ManagedSecret and, when it turns rollouts on, the requesting user's rights.
func (v ManagedSecretValidator) ValidateUpdate(ctx context.Context, old, ms *syncv1.ManagedSecret) (admission.Warnings, error) {
	if !ms.DeletionTimestamp.IsZero() {
		return nil, nil // Finalizer removal and status of an object on its way out: nothing left to validate.
	}
	return v.validate(ctx, old, ms)
}

// ValidateDelete allows every deletion: cleanup is the finalizer's job.
func (ManagedSecretValidator) ValidateDelete(context.Context, *syncv1.ManagedSecret) (admission.Warnings, error) {
	return nil, nil
}

func (v ManagedSecretValidator) validate(ctx context.Context, old, ms *syncv1.ManagedSecret) (admission.Warnings, error) {
	if r := ms.Spec.Rollout; r != nil {
		if errs := validateRollout(field.NewPath("spec", "rollout"), r); len(errs) > 0 {
			return nil, apierrors.NewInvalid(syncv1.GroupVersion.WithKind("ManagedSecret").GroupKind(), ms.Name, errs)
		}
	}
	return nil, v.Authorizer.AuthorizeRollout(ctx, old, ms)
}
