package v1

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Every default and bound of the API is defined here, once. The schema markers on the types must repeat them as
// literals (controller-gen reads no Go constants); TestSchemaMarkersAgreeWithTheGoDefaults fails when a marker and
// its constant here disagree. The webhook, the controllers and conversion use these names, never literals.

// Defaults of a ConfigMapSync.
const (
	// DefaultSourceKind is spec.source.kind when it is not set.
	DefaultSourceKind = SourceKindConfigMap
	// DefaultSyncFrequency is spec.syncFrequency when it is not set.
	DefaultSyncFrequency = "5m"
	// DefaultSyncStrategy is spec.syncStrategy when it is not set.
	DefaultSyncStrategy = SyncStrategyAutomatic
	// DefaultDeletionPolicy is spec.deletionPolicy (of both kinds) when it is not set.
	DefaultDeletionPolicy = DeletionPolicyDelete
	// DefaultConflictPolicy is spec.conflictPolicy when it is not set: objects the operator does not own are left
	// alone.
	DefaultConflictPolicy = ConflictPolicyRefuse
	// DefaultVolumeMounts is spec.rollout.volumeMounts when it is not set.
	DefaultVolumeMounts = VolumeMountsIgnore
	// DefaultRolloutDebounce is spec.rollout.debounce when it is not set.
	DefaultRolloutDebounce = "30s"
)

// Bounds of a ConfigMapSync, enforced by the schema and the validating webhook.
const (
	// MaxDestinationNamespaces bounds spec.destination.namespaces.
	MaxDestinationNamespaces = 100
	// MinSyncFrequency and MaxSyncFrequency bound spec.syncFrequency.
	MinSyncFrequency = "10s"
	MaxSyncFrequency = "24h"
	// MinRolloutDebounce and MaxRolloutDebounce bound spec.rollout.debounce.
	MinRolloutDebounce = "0s"
	MaxRolloutDebounce = "1h"
)

// Defaults of a ManagedSecret.
const (
	// DefaultSecretType is spec.type when it is not set.
	DefaultSecretType = corev1.SecretTypeOpaque
)

// Bounds of a ManagedSecret, enforced by the schema.
const (
	// MaxManagedSecretKeys bounds spec.keys.
	MaxManagedSecretKeys = 64
	// MinRotationInterval and MaxRotationInterval bound spec.rotationInterval.
	MinRotationInterval = "1m"
	MaxRotationInterval = "8760h"
	// MinKeepPrevious and MaxKeepPrevious bound spec.keepPrevious.
	MinKeepPrevious = "1s"
	MaxKeepPrevious = "8760h"
)

// DurationBetween parses value as a Go duration and checks that it lies between minimum and maximum (both
// durations too). Its error states the rule, for the caller to put after the field's name.
func DurationBetween(value, minimum, maximum string) (time.Duration, error) {
	lo, err := time.ParseDuration(minimum)
	if err != nil {
		return 0, fmt.Errorf("bad lower bound %q: %w", minimum, err)
	}
	hi, err := time.ParseDuration(maximum)
	if err != nil {
		return 0, fmt.Errorf("bad upper bound %q: %w", maximum, err)
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%q is not a duration between %s and %s", value, minimum, maximum)
	}
	return d, nil
}

// SourceNamespace returns the namespace of the source: spec.source.namespace, or the ConfigMapSync's own.
func (c *ConfigMapSync) SourceNamespace() string {
	if c.Spec.Source.Namespace != "" {
		return c.Spec.Source.Namespace
	}
	return c.Namespace
}

// SourceKind returns the kind of the source: spec.source.kind, or DefaultSourceKind.
func (c *ConfigMapSync) SourceKind() SourceKind {
	if c.Spec.Source.Kind != "" {
		return c.Spec.Source.Kind
	}
	return DefaultSourceKind
}

// DestinationKind returns the kind of the copies: spec.destination.kind, or the source's kind.
func (c *ConfigMapSync) DestinationKind() SourceKind {
	if c.Spec.Destination.Kind != "" {
		return c.Spec.Destination.Kind
	}
	return c.SourceKind()
}

// CopyIsSource reports whether a copy in the source's namespace would be the source itself: same kind, same name.
// The source's namespace then never gets a copy.
func (c *ConfigMapSync) CopyIsSource() bool {
	return c.CopyName() == c.Spec.Source.Name && c.DestinationKind() == c.SourceKind()
}

// CopyName returns the name of the copies: spec.destination.name, or the source's name.
func (c *ConfigMapSync) CopyName() string {
	if c.Spec.Destination.Name != "" {
		return c.Spec.Destination.Name
	}
	return c.Spec.Source.Name
}

// SyncPeriod returns spec.syncFrequency as a duration (DefaultSyncFrequency when unset), or an error naming the
// field and the rule when it is out of bounds.
func (c *ConfigMapSync) SyncPeriod() (time.Duration, error) {
	return fieldDuration("spec.syncFrequency", c.Spec.SyncFrequency, DefaultSyncFrequency, MinSyncFrequency, MaxSyncFrequency)
}

// EffectiveRollout returns spec.rollout with its defaults filled in; without one, rollouts are off except for
// workloads that opt in by annotation.
func (c *ConfigMapSync) EffectiveRollout() RolloutPolicy { return effectiveRollout(c.Spec.Rollout) }

// EffectiveRollout returns spec.rollout with its defaults filled in, as a ConfigMapSync's.
func (m *ManagedSecret) EffectiveRollout() RolloutPolicy { return effectiveRollout(m.Spec.Rollout) }

func effectiveRollout(r *RolloutPolicy) RolloutPolicy {
	p := RolloutPolicy{VolumeMounts: DefaultVolumeMounts, Debounce: DefaultRolloutDebounce}
	if r != nil {
		p.Enabled = r.Enabled
		if r.VolumeMounts != "" {
			p.VolumeMounts = r.VolumeMounts
		}
		if r.Debounce != "" {
			p.Debounce = r.Debounce
		}
	}
	return p
}

// DebouncePeriod returns debounce as a duration (DefaultRolloutDebounce when unset), or an error naming the field
// and the rule when it is out of bounds.
func (p RolloutPolicy) DebouncePeriod() (time.Duration, error) {
	return fieldDuration("spec.rollout.debounce", p.Debounce, DefaultRolloutDebounce, MinRolloutDebounce, MaxRolloutDebounce)
}

// SecretName returns the name of the generated Secret: spec.secretName, or the ManagedSecret's own name.
func (m *ManagedSecret) SecretName() string {
	if m.Spec.SecretName != "" {
		return m.Spec.SecretName
	}
	return m.Name
}

// RotationPeriod returns spec.rotationInterval as a duration, 0 when unset (rotate on request only), or an error
// naming the field and the rule.
func (m *ManagedSecret) RotationPeriod() (time.Duration, error) {
	return fieldDuration("spec.rotationInterval", m.Spec.RotationInterval, "", MinRotationInterval, MaxRotationInterval)
}

// KeepPreviousPeriod returns spec.keepPrevious as a duration, 0 when unset (no ".previous" keys), or an error
// naming the field and the rule.
func (m *ManagedSecret) KeepPreviousPeriod() (time.Duration, error) {
	return fieldDuration("spec.keepPrevious", m.Spec.KeepPrevious, "", MinKeepPrevious, MaxKeepPrevious)
}

// fieldDuration parses the duration of one field, value or else fallback, within its bounds; 0 when both are
// empty (an optional field without a default).
func fieldDuration(field, value, fallback, minimum, maximum string) (time.Duration, error) {
	if value == "" {
		value = fallback
	}
	if value == "" {
		return 0, nil
	}
	d, err := DurationBetween(value, minimum, maximum)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	return d, nil
}
