// Package webhook holds the operator's admission webhooks: defaulting and validation of ConfigMapSync, and
// validation of ManagedSecret rollouts. The ConfigMapSync webhooks are registered for v1 only; the API server
// converts v1beta1 requests to v1 before calling them (matchPolicy Equivalent), so one implementation serves both
// versions.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// +kubebuilder:webhook:path=/mutate-sync-configmapsync-io-v1-configmapsync,mutating=true,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=configmapsyncs,verbs=create;update,versions=v1,name=mconfigmapsync-v1.sync.configmapsync.io,admissionReviewVersions=v1,matchPolicy=Equivalent
// +kubebuilder:webhook:path=/validate-sync-configmapsync-io-v1-configmapsync,mutating=false,failurePolicy=fail,sideEffects=None,groups=sync.configmapsync.io,resources=configmapsyncs,verbs=create;update,versions=v1,name=vconfigmapsync-v1.sync.configmapsync.io,admissionReviewVersions=v1,matchPolicy=Equivalent

// SetupConfigMapSyncWebhook registers the conversion, defaulting and validating webhooks of ConfigMapSync.
func SetupConfigMapSyncWebhook(mgr ctrl.Manager) error {
	return ctrl.NewWebhookManagedBy(mgr, &syncv1.ConfigMapSync{}).
		WithDefaulter(ConfigMapSyncDefaulter{}).
		WithValidator(ConfigMapSyncValidator{Authorizer: Authorizer{Client: mgr.GetClient(), Decisions: &access.Decisions{}}}).
		Complete()
}

// ConfigMapSyncDefaulter fills the defaults the schema cannot express (the source namespace is the object's own)
// and, for objects that bypassed schema defaulting, the schema's defaults too.
type ConfigMapSyncDefaulter struct{}

var _ admission.Defaulter[*syncv1.ConfigMapSync] = ConfigMapSyncDefaulter{}

// Default sets the defaults of a ConfigMapSync and records who asked for its source and destinations. It leaves
// the cleanup finalizer alone: the reconcile adds it (controllers/lifecycle), its one owner, since a webhook does
// not see every object (webhooks off, an object created while the webhook was not called).
func (ConfigMapSyncDefaulter) Default(ctx context.Context, cms *syncv1.ConfigMapSync) error {
	Default(cms)
	return recordRequester(ctx, cms)
}

// Default sets the defaults of a ConfigMapSync in place, from the constants of api/v1.
func Default(cms *syncv1.ConfigMapSync) {
	spec := &cms.Spec
	if spec.Source.Kind == "" {
		spec.Source.Kind = syncv1.DefaultSourceKind
	}
	if spec.Source.Namespace == "" {
		spec.Source.Namespace = cms.Namespace
	}
	if spec.SyncFrequency == "" {
		spec.SyncFrequency = syncv1.DefaultSyncFrequency
	}
	if spec.SyncStrategy == "" {
		spec.SyncStrategy = syncv1.DefaultSyncStrategy
	}
	if spec.DeletionPolicy == "" {
		spec.DeletionPolicy = syncv1.DefaultDeletionPolicy
	}
	if spec.ConflictPolicy == "" {
		spec.ConflictPolicy = syncv1.DefaultConflictPolicy
	}
}

// ConfigMapSyncValidator rejects ConfigMapSyncs the operator cannot carry out, naming the field and the rule, and
// ConfigMapSyncs asking for copies the requesting user could not make themselves.
type ConfigMapSyncValidator struct {
	Authorizer Authorizer
}

var _ admission.Validator[*syncv1.ConfigMapSync] = ConfigMapSyncValidator{}

// ValidateCreate validates a new ConfigMapSync and the requesting user's rights.
func (v ConfigMapSyncValidator) ValidateCreate(ctx context.Context, cms *syncv1.ConfigMapSync) (admission.Warnings, error) {
	if err := invalid(cms, append(validateMetadata(cms, nil), Validate(cms, nil)...)); err != nil {
		return nil, err
	}
	return nil, v.Authorizer.Authorize(ctx, nil, cms)
}

// ValidateUpdate validates a changed ConfigMapSync against its previous state and, when its source or
// destinations change, the requesting user's rights.
func (v ConfigMapSyncValidator) ValidateUpdate(ctx context.Context, old, cms *syncv1.ConfigMapSync) (admission.Warnings, error) {
	if !cms.DeletionTimestamp.IsZero() && equality.Semantic.DeepEqual(old.Spec, cms.Spec) {
		// Finalizer removal of an object on its way out, even one stored invalid by an older release: nothing
		// asked of the operator changes. A change of spec is validated like any other: cleanup follows the spec.
		return nil, nil
	}
	if err := invalid(cms, append(validateMetadata(cms, old), Validate(cms, old)...)); err != nil {
		return nil, err
	}
	return nil, v.Authorizer.Authorize(ctx, old, cms)
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
	errs = append(errs, validateKeys(src.Child("keys"), spec.Source.Keys)...)

	errs = append(errs, validateDestination(cms, specPath.Child("destination"))...)
	errs = append(errs, validateDestinationKind(cms, old, specPath.Child("destination", "kind"))...)

	errs = append(errs, validateFrequency(specPath.Child("syncFrequency"), spec.SyncFrequency)...)
	if r := spec.Rollout; r != nil {
		errs = append(errs, validateRollout(specPath.Child("rollout"), r)...)
	}
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
	switch spec.ConflictPolicy {
	case syncv1.ConflictPolicyRefuse, syncv1.ConflictPolicyAdopt:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("conflictPolicy"), spec.ConflictPolicy,
			[]syncv1.ConflictPolicy{syncv1.ConflictPolicyRefuse, syncv1.ConflictPolicyAdopt}))
	}
	return errs
}

// validateMetadata rejects a conversion-data annotation set through v1: only the conversion webhook writes it, on
// the v1beta1 form, and strips it when converting to v1. An object that already holds the same value (stored
// before this rule) may still be updated, so that its finalizer and status keep working.
func validateMetadata(cms, old *syncv1.ConfigMapSync) field.ErrorList {
	value, ok := cms.Annotations[syncv1beta1.ConversionDataAnnotation]
	if !ok || (old != nil && old.Annotations[syncv1beta1.ConversionDataAnnotation] == value) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("metadata", "annotations").Key(syncv1beta1.ConversionDataAnnotation),
		"is set by the conversion webhook only")}
}

// validateKeys checks spec.source.keys: names the API server accepts as ConfigMap and Secret keys, renames of
// single keys only, and a key name of its own in the copies for each entry (the schema checks all but the last,
// whose cost a CEL rule over the list would exceed the API server's budget).
func validateKeys(path *field.Path, keys []syncv1.KeySelector) field.ErrorList {
	var errs field.ErrorList
	targets := make(map[string]bool, len(keys))
	for i, k := range keys {
		p := path.Index(i)
		target := k.As
		if target == "" {
			target = k.Key
		}
		if k.As != "" {
			errs = append(errs, messages(p.Child("as"), k.As, validation.IsConfigMapKey(k.As))...)
			if strings.ContainsAny(k.Key, "*?") {
				errs = append(errs, field.Invalid(p.Child("key"), k.Key, "as renames a single key: key must be a name, not a glob"))
			}
		}
		if targets[target] {
			errs = append(errs, field.Duplicate(p, target+" (each key must be copied under a name of its own)"))
		}
		targets[target] = true
	}
	return errs
}

// validateDestinationKind checks the kind of the copies: ConfigMap or Secret, never a Secret into ConfigMaps, and
// fixed at creation.
func validateDestinationKind(cms, old *syncv1.ConfigMapSync, path *field.Path) field.ErrorList {
	kind := cms.Spec.Destination.Kind
	var errs field.ErrorList
	switch kind {
	case "", syncv1.SourceKindConfigMap, syncv1.SourceKindSecret:
	default:
		errs = append(errs, field.NotSupported(path, kind, []syncv1.SourceKind{syncv1.SourceKindConfigMap, syncv1.SourceKindSecret}))
	}
	if kind == syncv1.SourceKindConfigMap && cms.SourceKind() == syncv1.SourceKindSecret {
		errs = append(errs, field.Forbidden(path,
			"a Secret is never copied into ConfigMaps: they are not meant for secret data, and more users may read them"))
	}
	if old != nil && old.Spec.Destination.Kind != kind {
		errs = append(errs, field.Forbidden(path, "is immutable: create a new ConfigMapSync to copy into another kind"))
	}
	return errs
}

func validateDestination(cms *syncv1.ConfigMapSync, path *field.Path) field.ErrorList {
	dst := &cms.Spec.Destination
	var errs field.ErrorList
	if len(dst.Namespaces) == 0 && dst.NamespaceSelector == nil {
		errs = append(errs, field.Required(path, "at least one of namespaces or namespaceSelector is required"))
	}
	if len(dst.Namespaces) > syncv1.MaxDestinationNamespaces {
		errs = append(errs, field.TooMany(path.Child("namespaces"), len(dst.Namespaces), syncv1.MaxDestinationNamespaces))
	}
	seen := make(map[string]bool, len(dst.Namespaces))
	for i, ns := range dst.Namespaces {
		p := path.Child("namespaces").Index(i)
		errs = append(errs, namespaceName(p, ns, false)...)
		if seen[ns] {
			errs = append(errs, field.Duplicate(p, ns))
		}
		seen[ns] = true
		if ns == cms.SourceNamespace() && cms.CopyIsSource() {
			errs = append(errs, field.Invalid(p, ns,
				"the source namespace cannot also be a destination: the copy would replace the source (set destination.name to copy under another name)"))
		}
	}
	if s := dst.NamespaceSelector; s != nil && len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(path.Child("namespaceSelector"), "{}",
			"must have matchLabels or matchExpressions: an empty selector would select every namespace"))
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
	if _, err := syncv1.DurationBetween(value, syncv1.MinSyncFrequency, syncv1.MaxSyncFrequency); err != nil {
		return field.ErrorList{field.Invalid(path, value,
			fmt.Sprintf("must be a duration between %s and %s, such as 30s, 5m or 1h", syncv1.MinSyncFrequency, syncv1.MaxSyncFrequency))}
	}
	return nil
}

// validateRollout checks the rollout policy: a known volume-mount policy and a debounce within its bounds.
func validateRollout(path *field.Path, r *syncv1.RolloutPolicy) field.ErrorList {
	var errs field.ErrorList
	switch r.VolumeMounts {
	case "", syncv1.VolumeMountsIgnore, syncv1.VolumeMountsRestart:
	default:
		errs = append(errs, field.NotSupported(path.Child("volumeMounts"), r.VolumeMounts,
			[]syncv1.VolumeMountPolicy{syncv1.VolumeMountsIgnore, syncv1.VolumeMountsRestart}))
	}
	if r.Debounce != "" {
		if _, err := syncv1.DurationBetween(r.Debounce, syncv1.MinRolloutDebounce, syncv1.MaxRolloutDebounce); err != nil {
			errs = append(errs, field.Invalid(path.Child("debounce"), r.Debounce,
				fmt.Sprintf("must be a duration between %s and %s, such as 30s", syncv1.MinRolloutDebounce, syncv1.MaxRolloutDebounce)))
		}
	}
	return errs
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

// decodeV1 decodes a v1 ConfigMapSync from an admission request's raw object.
func decodeV1(raw []byte, into *syncv1.ConfigMapSync) error {
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("decoding the previous object: %w", err)
	}
	return nil
}
