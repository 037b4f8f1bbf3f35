// Package webhook holds the operator's admission webhooks: defaulting and validation of ConfigMapSync. Both are
// registered for v1 only; the API server converts v1beta1 requests to v1 before calling them (matchPolicy
// Equivalent), so one implementation serves both versions.
package webhook

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// +kubebuilder:webhook:path=/mutate-sync-configmapsync-io-v1-configmapsync,mutating=true,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=configmapsyncs,verbs=create;update,versions=v1,name=mconfigmapsync-v1.sync.configmapsync.io,admissionReviewVersions=v1,matchPolicy=Equivalent
// +kubebuilder:webhook:path=/validate-sync-configmapsync-io-v1-configmapsync,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=configmapsyncs,verbs=create;update,versions=v1,name=vconfigmapsync-v1.sync.configmapsync.io,admissionReviewVersions=v1,matchPolicy=Equivalent

// SetupConfigMapSyncWebhook registers the conversion, defaulting and validating webhooks of ConfigMapSync.
func SetupConfigMapSyncWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &syncv1.ConfigMapSync{}).
		WithDefaulter(ConfigMapSyncDefaulter{}).
		WithValidator(ConfigMapSyncValidator{}).
		Complete()
}

// ConfigMapSyncDefaulter fills the defaults the schema cannot express (the source namespace is the object's own)
// and, for objects that bypassed schema defaulting, the schema's defaults too.
type ConfigMapSyncDefaulter struct{}

var _ admission.Defaulter[*syncv1.ConfigMapSync] = ConfigMapSyncDefaulter{}

// Default sets the defaults of a ConfigMapSync.
func (ConfigMapSyncDefaulter) Default(_ context.Context, cms *syncv1.ConfigMapSync) error {
	Default(cms)
	return nil
}

// Default sets the defaults of a ConfigMapSync in place.
func Default(cms *syncv1.ConfigMapSync) {
	spec := &cms.Spec
	if spec.Source.Kind == "" {
		spec.Source.Kind = syncv1.SourceKindConfigMap
	}
	if spec.Source.Namespace == "" {
		spec.Source.Namespace = cms.Namespace
	}
	if spec.SyncFrequency == "" {
		spec.SyncFrequency = syncv1.DefaultSyncFrequency
	}
	if spec.SyncStrategy == "" {
		spec.SyncStrategy = syncv1.SyncStrategyAutomatic
	}
	if spec.DeletionPolicy == "" {
		spec.DeletionPolicy = syncv1.DeletionPolicyDelete
	}
}

// ConfigMapSyncValidator rejects ConfigMapSyncs the operator cannot carry out, naming the field and the rule.
type ConfigMapSyncValidator struct{}

var _ admission.Validator[*syncv1.ConfigMapSync] = ConfigMapSyncValidator{}

// ValidateCreate validates a new ConfigMapSync.
func (ConfigMapSyncValidator) ValidateCreate(_ context.Context, cms *syncv1.ConfigMapSync) (admission.Warnings, error) {
	return nil, invalid(cms, Validate(cms, nil))
}

// ValidateUpdate validates a changed ConfigMapSync against its previous state.
func (ConfigMapSyncValidator) ValidateUpdate(_ context.Context, old, cms *syncv1.ConfigMapSync) (admission.Warnings, error) {
	return nil, invalid(cms, Validate(cms, old))
}

// ValidateDelete allows every deletion: cleanup is the finalizer's job.
func (ConfigMapSyncValidator) ValidateDelete(context.Context, *syncv1.ConfigMapSync) (admission.Warnings, error) {
	return nil, nil
}

func invalid(cms *syncv1.ConfigMapSync, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(syncv1.GroupVersion.WithKind("ConfigMapSync").GroupKind(), cms.Name, errs)
}

// Validate returns every rule a ConfigMapSync breaks; old is nil on creation.
func Validate(cms *syncv1.ConfigMapSync, old *syncv1.ConfigMapSync) field.ErrorList {
	spec := &cms.Spec
	specPath := field.NewPath("spec")
	var errs field.ErrorList

	src := specPath.Child("source")
	switch spec.Source.Kind {
	case syncv1.SourceKindConfigMap, syncv1.SourceKindSecret:
	default:
		errs = append(errs, field.NotSupported(src.Child("kind"), spec.Source.Kind,
			[]syncv1.SourceKind{syncv1.SourceKindConfigMap, syncv1.SourceKindSecret}))
	}
	if old != nil && old.Spec.Source.Kind != spec.Source.Kind {
		errs = append(errs, field.Forbidden(src.Child("kind"),
			"is immutable: create a new ConfigMapSync to copy another kind"))
	}
	errs = append(errs, namespaceName(src.Child("namespace"), spec.Source.Namespace, true)...)
	errs = append(errs, objectName(src.Child("name"), spec.Source.Name, true)...)

	errs = append(errs, validateDestination(spec, specPath.Child("destination"))...)

	errs = append(errs, validateFrequency(specPath.Child("syncFrequency"), spec.SyncFrequency)...)
	switch spec.SyncStrategy {
	case syncv1.SyncStrategyAutomatic, syncv1.SyncStrategyManual:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("syncStrategy"), spec.SyncStrategy,
			[]syncv1.SyncStrategy{syncv1.SyncStrategyAutomatic, syncv1.SyncStrategyManual}))
	}
	switch spec.DeletionPolicy {
	case syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("deletionPolicy"), spec.DeletionPolicy,
			[]syncv1.DeletionPolicy{syncv1.DeletionPolicyDelete, syncv1.DeletionPolicyOrphan}))
	}
	return errs
}

func validateDestination(spec *syncv1.ConfigMapSyncSpec, path *field.Path) field.ErrorList {
	dst := &spec.Destination
	var errs field.ErrorList
	if len(dst.Namespaces) == 0 && dst.NamespaceSelector == nil {
		errs = append(errs, field.Required(path, "at least one of namespaces or namespaceSelector is required"))
	}
	if len(dst.Namespaces) > syncv1.MaxDestinationNamespaces {
		errs = append(errs, field.TooMany(path.Child("namespaces"), len(dst.Namespaces), syncv1.MaxDestinationNamespaces))
	}
	copyName := dst.Name
	if copyName == "" {
		copyName = spec.Source.Name
	}
	seen := make(map[string]bool, len(dst.Namespaces))
	for i, ns := range dst.Namespaces {
		p := path.Child("namespaces").Index(i)
		errs = append(errs, namespaceName(p, ns, false)...)
		if seen[ns] {
			errs = append(errs, field.Duplicate(p, ns))
		}
		seen[ns] = true
		if ns == spec.Source.Namespace && copyName == spec.Source.Name {
			errs = append(errs, field.Invalid(p, ns,
				"the source namespace cannot also be a destination: the copy would replace the source (set destination.name to copy under another name)"))
		}
	}
	if dst.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(dst.NamespaceSelector,
			metav1validation.LabelSelectorValidationOptions{}, path.Child("namespaceSelector"))...)
	}
	if dst.Name != "" {
		errs = append(errs, objectName(path.Child("name"), dst.Name, false)...)
	}
	return errs
}

// validateFrequency checks that a duration parses and lies between MinSyncFrequency and MaxSyncFrequency.
func validateFrequency(path *field.Path, value string) field.ErrorList {
	lo, _ := time.ParseDuration(syncv1.MinSyncFrequency)
	hi, _ := time.ParseDuration(syncv1.MaxSyncFrequency)
	rule := fmt.Sprintf("must be a duration between %s and %s, such as 30s, 5m or 1h", syncv1.MinSyncFrequency, syncv1.MaxSyncFrequency)
	d, err := time.ParseDuration(value)
	if err != nil || d < lo || d > hi {
		return field.ErrorList{field.Invalid(path, value, rule)}
	}
	return nil
}

// namespaceName checks a namespace name (an RFC 1123 label).
func namespaceName(path *field.Path, value string, required bool) field.ErrorList {
	return name(path, value, required, validation.IsDNS1123Label)
}

// objectName checks an object name (an RFC 1123 subdomain).
func objectName(path *field.Path, value string, required bool) field.ErrorList {
	return name(path, value, required, validation.IsDNS1123Subdomain)
}

func name(path *field.Path, value string, required bool, rule func(string) []string) field.ErrorList {
	switch {
	case value == "" && required:
		return field.ErrorList{field.Required(path, "a name is required")}
	case value == "":
		return field.ErrorList{field.Invalid(path, value, "must not be empty")}
	}
	return messages(path, value, rule(value))
}

func messages(path *field.Path, value string, msgs []string) field.ErrorList {
	errs := make(field.ErrorList, 0, len(msgs))
	for _, m := range msgs {
		errs = append(errs, field.Invalid(path, value, m))
	}
	return errs
}
