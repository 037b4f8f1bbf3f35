// Package access decides whether the user who asked for a ConfigMapSync may have what it does done for them:
// the permissions a sync needs, the SubjectAccessReviews that check them, and a short-lived cache of their
// decisions. The admission webhook checks them once, when the source or destinations are set; the controller
// checks them again at every sync, since rights change after admission.
package access

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Ask the API server whether the requesting user may do what a ConfigMapSync asks for.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// RequestedByAnnotation records the name of the user whose rights authorized the current source and destinations
// of a ConfigMapSync. The mutating webhook sets it from the admission request; users cannot set it themselves.
const RequestedByAnnotation = "sync.configmapsync.io/requested-by"

// RequestedByIdentityAnnotation records that user's whole identity, as JSON of its name, UID, groups and extra:
// most rights are granted to groups, so re-checking them needs more than the name. The mutating webhook sets and
// keeps it exactly as it does RequestedByAnnotation.
const RequestedByIdentityAnnotation = "sync.configmapsync.io/requested-by-identity"

// reviewParallelism bounds the SubjectAccessReviews one check has in flight.
const reviewParallelism = 8

// RecheckTTL is how long the controller reuses a decision, allowed or denied: a revoked right stops the copies
// within the TTL plus a sync period, while a resync of thousands of ConfigMapSyncs of one team asks the API server
// each question once.
const RecheckTTL = 30 * time.Second

// maxRecheckDecisions bounds the controller's cache: about 100 bytes each, some 1.6 MiB when full.
const maxRecheckDecisions = 16384

// Needs lists the permissions a sync requires of the user who asks for it: get on the source, and create,
// update and delete of the copies' kind in every destination namespace, or cluster-wide with a namespace selector; with
// rollouts, patch on the workloads there.
func Needs(cms *syncv1.ConfigMapSync) []authorizationv1.ResourceAttributes {
	scopes := Scopes(cms)
	attrs := make([]authorizationv1.ResourceAttributes, 0, 1+4*len(scopes))
	attrs = append(attrs, Source(cms))
	for _, ns := range scopes {
		attrs = append(attrs, Destination(cms, ns)...)
	}
	return attrs
}

// Source is the permission to read a ConfigMapSync's source.
func Source(cms *syncv1.ConfigMapSync) authorizationv1.ResourceAttributes {
	return authorizationv1.ResourceAttributes{
		Verb: "get", Resource: resourceOf(cms.SourceKind()), Namespace: cms.Spec.Source.Namespace, Name: cms.Spec.Source.Name,
	}
}

// Scopes lists the namespaces whose rights a ConfigMapSync's destinations need: the listed ones, or "" (every
// namespace, now or later: the rights must hold cluster-wide) with a namespace selector.
func Scopes(cms *syncv1.ConfigMapSync) []string {
	if cms.Spec.Destination.NamespaceSelector != nil {
		return []string{""}
	}
	return cms.Spec.Destination.Namespaces
}

// Destination lists the permissions to write a ConfigMapSync's copies in namespace ("" for all namespaces).
func Destination(cms *syncv1.ConfigMapSync, namespace string) []authorizationv1.ResourceAttributes {
	resource := resourceOf(cms.DestinationKind())
	attrs := make([]authorizationv1.ResourceAttributes, 0, 3+len(syncer.WorkloadKinds))
	for _, verb := range []string{"create", "update", "delete"} {
		attrs = append(attrs, authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: namespace})
	}
	// Rollouts restart workloads there: only for users who could restart them themselves.
	if cms.Spec.Rollout != nil && cms.Spec.Rollout.Enabled {
		attrs = append(attrs, WorkloadPatches(namespace)...)
	}
	return attrs
}

// resourceOf is the API resource of kind.
func resourceOf(kind syncv1.SourceKind) string {
	if kind == syncv1.SourceKindSecret {
		return "secrets"
	}
	return "configmaps"
}

// WorkloadPatches lists the rights to restart the workloads of namespace, which a rollout uses: patch on each of
// the kinds the rollout engine restarts (their resources are the plural of the kind in lower case).
func WorkloadPatches(namespace string) []authorizationv1.ResourceAttributes {
	attrs := make([]authorizationv1.ResourceAttributes, 0, len(syncer.WorkloadKinds))
	for _, kind := range syncer.WorkloadKinds {
		attrs = append(attrs, authorizationv1.ResourceAttributes{
			Verb: "patch", Group: "apps", Resource: strings.ToLower(kind) + "s", Namespace: namespace,
		})
	}
	return attrs
}

// Describe names a permission for messages: `get configmaps "settings" in namespace "team-a"`.
func Describe(attr authorizationv1.ResourceAttributes) string {
	if attr.Group != "" {
		attr.Resource = attr.Resource + "." + attr.Group
	}
	switch {
	case attr.Name != "":
		return fmt.Sprintf("%s %s %q in namespace %q", attr.Verb, attr.Resource, attr.Name, attr.Namespace)
	case attr.Namespace == "":
		return fmt.Sprintf("%s %s in all namespaces (needed for destination.namespaceSelector)", attr.Verb, attr.Resource)
	default:
		return fmt.Sprintf("%s %s in namespace %q", attr.Verb, attr.Resource, attr.Namespace)
	}
}

// DescribeAll names permissions for messages, separated by "; ".
func DescribeAll(attrs []authorizationv1.ResourceAttributes) string {
	parts := make([]string, len(attrs))
	for i, attr := range attrs {
		parts[i] = Describe(attr)
	}
	return strings.Join(parts, "; ")
}

// Reviewer asks the API server, through SubjectAccessReviews, whether a user has permissions.
type Reviewer struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	// Decisions, when set, reuses recent decisions.
	Decisions *Decisions
}

// NewRechecker returns the controller's Reviewer: decisions, allowed and denied, are reused for ttl, or RecheckTTL
// when ttl is 0.
func NewRechecker(c client.Client, ttl time.Duration) *Reviewer {
	if ttl <= 0 {
		ttl = RecheckTTL
	}
	return &Reviewer{Client: c, Decisions: &Decisions{TTL: ttl, Denials: true, Max: maxRecheckDecisions}}
}

// Missing returns the permissions of attrs that user lacks, in the order of attrs. One review per permission not
// in the cache, at most reviewParallelism at once: the API server answers each in about a round trip, and a
// ConfigMapSync into 100 namespaces with rollouts needs 601.
func (r Reviewer) Missing(ctx context.Context, user authenticationv1.UserInfo, attrs []authorizationv1.ResourceAttributes) ([]authorizationv1.ResourceAttributes, error) {
	allowed := make([]bool, len(attrs))
	errs := make([]error, len(attrs))
	sem := make(chan struct{}, reviewParallelism)
	var wg sync.WaitGroup
	for i, attr := range attrs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			allowed[i], errs[i] = r.allowed(ctx, user, attr)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var missing []authorizationv1.ResourceAttributes
	for i, attr := range attrs {
		if !allowed[i] {
			missing = append(missing, attr)
		}
	}
	return missing, nil
}

func (r Reviewer) allowed(ctx context.Context, user authenticationv1.UserInfo, attr authorizationv1.ResourceAttributes) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra, ResourceAttributes: &attr,
	}}
	if allowed, ok := r.Decisions.lookup(sar.Spec); ok {
		return allowed, nil
	}
	if err := r.Client.Create(ctx, sar); err != nil {
		return false, err
	}
	r.Decisions.remember(sar.Spec, sar.Status.Allowed)
	return sar.Status.Allowed, nil
}

// EncodeIdentity returns the value of RequestedByIdentityAnnotation for user.
func EncodeIdentity(user authenticationv1.UserInfo) string {
	raw, _ := json.Marshal(user) // Strings, slices and maps of strings always marshal.
	return string(raw)
}

// RecordedRequester returns the identity recorded on a ConfigMapSync by the mutating webhook. ok is false when
// none is usable: objects admitted before the identity was recorded (with RequestedByAnnotation only, or not even
// that), or whose two annotations name different users (a release that knew only RequestedByAnnotation changed it
// since), so that the identity is not the one whose rights were checked.
func RecordedRequester(cms *syncv1.ConfigMapSync) (user authenticationv1.UserInfo, ok bool) {
	raw, found := cms.Annotations[RequestedByIdentityAnnotation]
	if !found {
		return user, false
	}
	if err := json.Unmarshal([]byte(raw), &user); err != nil || user.Username == "" ||
		user.Username != cms.Annotations[RequestedByAnnotation] {
		return authenticationv1.UserInfo{}, false
	}
	return user, true
}
