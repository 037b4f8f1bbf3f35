// Package secretplan decides what the Secret of a ManagedSecret must hold and when it must be looked at again: which
// keys are generated, kept or rotated, and the rotation record kept next to the values. It does no I/O, so every
// rule is unit-tested without a client; the ManagedSecret controller reads the Secret, calls Decide and writes the
// result.
//
// Nothing here logs, and no error, record or hash carries a value.
package secretplan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/secretgen"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Record is the operator's record on a Secret it generated, kept in its annotations.
type Record struct {
	LastRotation time.Time
	Count        int64
	// Request is the last rotate-now value acted on.
	Request string
	// Generators maps each generated key to the hash of its generator's parameters; nil when the Secret has no
	// readable record of them.
	Generators map[string]string
}

// Plan is what the Secret must hold, and when the operator must look again.
type Plan struct {
	Desired *corev1.Secret
	// Action is the write the plan needs: Create, Update or None.
	Action syncer.Action
	Record Record
	// Rotated means this plan rotates the generated keys; Requested says that a rotate-now request asked for it.
	Rotated, Requested bool
	// Generated lists the keys generated for another reason than a rotation: added, settings changed, or a value
	// that was removed or no longer has the shape its settings give. Names only.
	Generated []string
	// ValuesChanged means the write replaces values of an existing Secret: the workloads reading it may need a
	// restart.
	ValuesChanged bool
	// Keys counts the keys of the spec.
	Keys int
	// NextRotation is when the next scheduled rotation is due, when there is a rotationInterval.
	NextRotation *time.Time
	// PreviousExpiry is when the ".previous" keys go, while the plan keeps any.
	PreviousExpiry *time.Time
	// Wake is the earlier of NextRotation and PreviousExpiry; zero when neither is set.
	Wake time.Time
}

// Decide decides what the Secret of ms must hold at now, given the operator's existing Secret (nil when there is
// none). Generated values are kept unless a rotation is due or requested, their generator's parameters changed, or
// the value is missing or not of the shape those parameters give; literals always follow the spec. A rotation
// keeps each replaced value under "<key>.previous" while keepPrevious says so. A spec the operator cannot act on
// is a terminal syncer.InvalidSpecError naming the field.
func Decide(ms *syncv1.ManagedSecret, existing *corev1.Secret, now time.Time) (Plan, error) {
	specs, err := keySpecs(ms)
	if err != nil {
		return Plan{}, err
	}
	interval, err := ms.RotationPeriod()
	if err != nil {
		return Plan{}, syncer.InvalidSpec("%v", err)
	}
	keep, err := ms.KeepPreviousPeriod()
	if err != nil {
		return Plan{}, syncer.InvalidSpec("%v", err)
	}
	// Times are recorded to the second (RFC 3339); plan with the time as it will read back.
	now = now.UTC().Truncate(time.Second)

	var old Record
	var oldData map[string][]byte
	if existing != nil {
		old, oldData = RecordOf(existing), existing.Data
	}
	plan := Plan{Keys: len(specs)}
	plan.Record, plan.Rotated, plan.Requested = nextRecord(ms, existing != nil, old, interval, now)

	data, hasPrevious, err := plan.fill(specs, old, oldData, keep, now)
	if err != nil {
		return Plan{}, err
	}
	plan.schedule(interval, keep, hasPrevious)
	plan.Desired = desiredSecret(ms, existing, data, plan.Record)
	plan.Action = actionFor(existing, plan.Desired)
	plan.ValuesChanged = existing != nil && !maps.EqualFunc(existing.Data, plan.Desired.Data, bytes.Equal)
	return plan, nil
}

// nextRecord returns the rotation record after now, and whether the generated keys rotate and a rotate-now request
// asked for it.
func nextRecord(ms *syncv1.ManagedSecret, exists bool, old Record, interval time.Duration, now time.Time) (rec Record, rotated, requested bool) {
	request := ms.Annotations[syncv1.RotateNowAnnotation]
	rec = Record{LastRotation: old.LastRotation, Count: old.Count, Request: old.Request, Generators: map[string]string{}}
	if !exists || old.LastRotation.IsZero() {
		// New values, or a Secret that lost its record: the schedule starts now, a rotate-now request already
		// there is taken as handled (the values are new anyway), and the count goes on from the status.
		rec.LastRotation = now
		rec.Count = max(rec.Count, ms.Status.RotationCount)
		if rec.Request == "" {
			rec.Request = ms.Status.LastHandledRotationRequest
		}
	} else {
		requested = request != "" && request != old.Request
		due := interval > 0 && !now.Before(old.LastRotation.Add(interval))
		if requested || due {
			rotated = true
			rec.LastRotation = now
			rec.Count++
		}
	}
	if request != "" {
		rec.Request = request
	}
	return rec, rotated, requested
}

// fill returns the data of the Secret: literals from the spec, generated values kept or made, and the ".previous"
// values a rotation keeps. It records each generated key's settings hash in p.Record.
func (p *Plan) fill(specs []keySpec, old Record, oldData map[string][]byte, keep time.Duration, now time.Time) (map[string][]byte, bool, error) {
	keepOld := keep > 0 && now.Before(p.Record.LastRotation.Add(keep))
	data := make(map[string][]byte, len(specs))
	hasPrevious := false
	for _, k := range specs {
		if k.literal != nil {
			data[k.name] = []byte(*k.literal)
			continue
		}
		p.Record.Generators[k.name] = k.hash
		current, have := oldData[k.name]
		sameSettings := old.Generators == nil || old.Generators[k.name] == k.hash
		if have && sameSettings && k.generator.Conforms(k.params, current) && !p.Rotated {
			data[k.name] = current
		} else {
			v, err := k.generator.Generate(k.params)
			if err != nil {
				return nil, false, fmt.Errorf("generating key %s: %w", k.name, err)
			}
			data[k.name] = v
			if !p.Rotated {
				p.Generated = append(p.Generated, k.name)
			}
		}
		previous := k.name + syncv1.PreviousKeySuffix
		switch {
		case p.Rotated && have && keep > 0:
			data[previous] = current
			hasPrevious = true
		case !p.Rotated && keepOld:
			if v, ok := oldData[previous]; ok {
				data[previous] = v
				hasPrevious = true
			}
		}
	}
	return data, hasPrevious, nil
}

// schedule sets when the next rotation is due, when the ".previous" keys expire, and the earlier of the two.
func (p *Plan) schedule(interval, keep time.Duration, hasPrevious bool) {
	if interval > 0 {
		next := p.Record.LastRotation.Add(interval)
		p.NextRotation, p.Wake = &next, next
	}
	if hasPrevious {
		expiry := p.Record.LastRotation.Add(keep)
		p.PreviousExpiry = &expiry
		if p.Wake.IsZero() || expiry.Before(p.Wake) {
			p.Wake = expiry
		}
	}
}

// actionFor returns the write that turns existing into desired.
func actionFor(existing, desired *corev1.Secret) syncer.Action {
	switch {
	case existing == nil:
		return syncer.ActionCreate
	case maps.EqualFunc(existing.Data, desired.Data, bytes.Equal) &&
		maps.Equal(existing.Labels, desired.Labels) && maps.Equal(existing.Annotations, desired.Annotations):
		return syncer.ActionNone
	default:
		return syncer.ActionUpdate
	}
}

// keySpec is one key of the spec, with its generator's normalized parameters and their hash.
type keySpec struct {
	name      string
	literal   *string
	generator secretgen.Generator
	params    secretgen.Params
	hash      string
}

// keySpecs checks the keys of the spec and resolves their generators.
func keySpecs(ms *syncv1.ManagedSecret) ([]keySpec, error) {
	if len(ms.Spec.Keys) == 0 || len(ms.Spec.Keys) > syncv1.MaxManagedSecretKeys {
		return nil, syncer.InvalidSpec("spec.keys must list 1 to %d keys", syncv1.MaxManagedSecretKeys)
	}
	seen := make(map[string]bool, len(ms.Spec.Keys))
	out := make([]keySpec, 0, len(ms.Spec.Keys))
	for _, k := range ms.Spec.Keys {
		if err := checkKeyName(k.Name, seen); err != nil {
			return nil, err
		}
		ks, err := keySpecOf(k)
		if err != nil {
			return nil, err
		}
		out = append(out, ks)
	}
	return out, nil
}

// checkKeyName checks a key's name: valid as a Secret key, not reserved, not seen before.
func checkKeyName(name string, seen map[string]bool) error {
	if errs := validation.IsConfigMapKey(name); len(errs) > 0 {
		return syncer.InvalidSpec("spec.keys[%s].name: %s", name, strings.Join(errs, "; "))
	}
	if strings.HasSuffix(name, syncv1.PreviousKeySuffix) {
		return syncer.InvalidSpec("spec.keys[%s].name: names ending in %s are reserved", name, syncv1.PreviousKeySuffix)
	}
	if seen[name] {
		return syncer.InvalidSpec("spec.keys[%s]: the key is listed twice", name)
	}
	seen[name] = true
	return nil
}

// keySpecOf resolves one key's literal or generator and normalizes the generator's parameters.
func keySpecOf(k syncv1.ManagedSecretKey) (keySpec, error) {
	ks := keySpec{name: k.Name}
	// The webhook applies the type on admission; applying it again here keeps objects admitted without the
	// webhook to the same meaning. k is a copy: the spec is not changed.
	if err := k.ApplyType(field.NewPath("spec", "keys").Key(k.Name)); err != nil {
		return keySpec{}, syncer.InvalidSpec("%s", err.Error())
	}
	var name string
	var params secretgen.Params
	sources := 0
	if k.Literal != nil {
		ks.literal, sources = k.Literal, sources+1
	}
	if g := k.Random; g != nil {
		name, params, sources = secretgen.GeneratorRandom, secretgen.Params{}, sources+1
		setParam(params, secretgen.ParamLength, g.Length)
		setParam(params, secretgen.ParamAlphabet, string(g.Alphabet))
	}
	if g := k.Bytes; g != nil {
		name, params, sources = secretgen.GeneratorBytes, secretgen.Params{}, sources+1
		setParam(params, secretgen.ParamLength, g.Length)
		setParam(params, secretgen.ParamEncoding, string(g.Encoding))
	}
	if k.UUID != nil {
		name, params, sources = secretgen.GeneratorUUID, secretgen.Params{}, sources+1
	}
	if sources != 1 {
		return keySpec{}, syncer.InvalidSpec("spec.keys[%s]: exactly one of random, bytes, uuid or literal must be set", k.Name)
	}
	if name == "" {
		return ks, nil
	}
	g, err := secretgen.Get(name)
	if err != nil {
		return keySpec{}, syncer.InvalidSpec("spec.keys[%s]: %v", k.Name, err)
	}
	if ks.params, err = g.Normalize(params); err != nil {
		return keySpec{}, syncer.InvalidSpec("spec.keys[%s].%s: %v", k.Name, name, err)
	}
	ks.generator, ks.hash = g, paramsHash(name, ks.params)
	return ks, nil
}

func setParam[T int32 | string](p secretgen.Params, name string, v T) {
	var zero T
	if v != zero {
		p[name] = fmt.Sprint(v)
	}
}

// paramsHash identifies a generator and its normalized parameters. It is computed from settings only, never from
// a value.
func paramsHash(generator string, p secretgen.Params) string {
	var b strings.Builder
	b.WriteString(generator)
	for _, k := range slices.Sorted(maps.Keys(p)) {
		b.WriteString("\x00" + k + "=" + p[k])
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:16]
}

// RecordOf reads the operator's record from a Secret's annotations; what is missing or unreadable is zero.
func RecordOf(s *corev1.Secret) Record {
	a := s.Annotations
	rec := Record{Request: a[syncv1.RotationRequestAnnotation]}
	if t, err := time.Parse(time.RFC3339, a[syncv1.LastRotationAnnotation]); err == nil {
		rec.LastRotation = t.UTC()
	}
	if n, err := strconv.ParseInt(a[syncv1.RotationCountAnnotation], 10, 64); err == nil && n >= 0 {
		rec.Count = n
	}
	if raw, ok := a[syncv1.GeneratorsAnnotation]; ok {
		var g map[string]string
		if json.Unmarshal([]byte(raw), &g) == nil && g != nil {
			rec.Generators = g
		}
	}
	return rec
}

// desiredSecret returns the Secret holding data and rec: the existing one with the operator's labels, annotations
// and data set (what others added to its metadata is kept), or a new one.
func desiredSecret(ms *syncv1.ManagedSecret, existing *corev1.Secret, data map[string][]byte, rec Record) *corev1.Secret {
	var s *corev1.Secret
	if existing != nil {
		s = existing.DeepCopy()
	} else {
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ms.Namespace, Name: ms.SecretName()}, Type: ms.Spec.Type}
		if s.Type == "" {
			s.Type = syncv1.DefaultSecretType
		}
	}
	s.Data, s.StringData = data, nil

	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[syncv1.ManagedByLabel] = syncv1.ManagedByValue
	labels[syncv1.OwnerUIDLabel] = string(ms.UID)
	s.Labels = labels

	annotations := maps.Clone(s.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	generators, _ := json.Marshal(rec.Generators) // a map of strings always marshals
	annotations[syncv1.OwnerAnnotation] = ms.Namespace + "/" + ms.Name
	annotations[syncv1.GeneratorsAnnotation] = string(generators)
	annotations[syncv1.LastRotationAnnotation] = rec.LastRotation.UTC().Format(time.RFC3339)
	annotations[syncv1.RotationCountAnnotation] = strconv.FormatInt(rec.Count, 10)
	if rec.Request != "" {
		annotations[syncv1.RotationRequestAnnotation] = rec.Request
	} else {
		delete(annotations, syncv1.RotationRequestAnnotation)
	}
	s.Annotations = annotations
	return s
}

// Sign puts the ownership proof on the planned Secret and decides the write again: a Secret without the proof (one
// written before proofs existed, or signed with the previous key) is written to be signed.
func (p *Plan) Sign(existing *corev1.Secret, proof string) {
	p.Desired.Annotations[syncv1.OwnershipProofAnnotation] = proof
	p.Action = actionFor(existing, p.Desired)
}
