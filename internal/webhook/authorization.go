package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Ask the API server whether the requesting user may do what a ConfigMapSync asks for.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// RequestedByAnnotation records the user whose rights authorized the current source and destinations of a
// ConfigMapSync. The mutating webhook sets it from the admission request; users cannot set it themselves.
const RequestedByAnnotation = "sync.configmapsync.io/requested-by"

// reviewParallelism bounds the SubjectAccessReviews one admission request has in flight.
const reviewParallelism = 8

// Authorizer checks that the user asking for a sync could make the copies themselves. The operator's
// ServiceAccount can read every Secret and write everywhere: without this check, anyone allowed to create a
// ConfigMapSync could use it to read a Secret they cannot read or write into a namespace they cannot write.
type Authorizer struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	// Decisions, when set, reuses allowed reviews for a few seconds.
	Decisions *Decisions
}

// needs lists the permissions a sync requires of the user who asks for it: get on the source, and create,
// update and delete of that kind in every destination namespace, or cluster-wide with a namespace selector.
func needs(cms *syncv1.ConfigMapSync) []authorizationv1.ResourceAttributes {
	resource := "configmaps"
	if cms.Spec.Source.Kind == syncv1.SourceKindSecret {
		resource = "secrets"
	}
	attrs := []authorizationv1.ResourceAttributes{{
		Verb: "get", Resource: resource, Namespace: cms.Spec.Source.Namespace, Name: cms.Spec.Source.Name,
	}}
	scopes := cms.Spec.Destination.Namespaces
	if cms.Spec.Destination.NamespaceSelector != nil {
		scopes = []string{""} // Any namespace, now or later: the rights must hold cluster-wide.
	}
	for _, ns := range scopes {
		for _, verb := range []string{"create", "update", "delete"} {
			attrs = append(attrs, authorizationv1.ResourceAttributes{Verb: verb, Resource: resource, Namespace: ns})
		}
		// Rollouts restart workloads there: only for users who could restart them themselves.
		if cms.Spec.Rollout != nil && cms.Spec.Rollout.Enabled {
			attrs = append(attrs, workloadPatches(ns)...)
		}
	}
	return attrs
}

// workloadPatches lists the rights to restart the workloads of namespace, which a rollout uses: patch on each of
// the kinds the rollout engine restarts (their resources are the plural of the kind in lower case).
func workloadPatches(namespace string) []authorizationv1.ResourceAttributes {
	attrs := make([]authorizationv1.ResourceAttributes, 0, len(syncer.WorkloadKinds))
	for _, kind := range syncer.WorkloadKinds {
		attrs = append(attrs, authorizationv1.ResourceAttributes{
			Verb: "patch", Group: "apps", Resource: strings.ToLower(kind) + "s", Namespace: namespace,
		})
	}
	return attrs
}

// Authorize returns a Forbidden error naming every permission the requesting user lacks. An update that leaves
// source and destination as they were needs no new check: the rights were checked when they were set.
func (a Authorizer) Authorize(ctx context.Context, old, cms *syncv1.ConfigMapSync) error {
	if old != nil && sameRequest(old, cms) {
		return nil
	}
	user, missing, err := a.missing(ctx, needs(cms))
	if err != nil || len(missing) == 0 {
		return err
	}
	return apierrors.NewForbidden(syncv1.GroupVersion.WithResource("configmapsyncs").GroupResource(), cms.Name, fmt.Errorf(
		"user %q may not ask the operator to copy what they cannot copy themselves; missing: %s", user, strings.Join(missing, "; ")))
}

// AuthorizeRollout returns a Forbidden error naming the rights a user lacks to have the operator restart the
// workloads of a ManagedSecret's namespace: it is only checked when rollouts are turned on.
func (a Authorizer) AuthorizeRollout(ctx context.Context, old, ms *syncv1.ManagedSecret) error {
	if !ms.EffectiveRollout().Enabled || (old != nil && old.EffectiveRollout().Enabled) {
		return nil
	}
	user, missing, err := a.missing(ctx, workloadPatches(ms.Namespace))
	if err != nil || len(missing) == 0 {
		return err
	}
	return apierrors.NewForbidden(syncv1.GroupVersion.WithResource("managedsecrets").GroupResource(), ms.Name, fmt.Errorf(
		"user %q may not ask the operator to restart workloads they cannot restart themselves; missing: %s", user, strings.Join(missing, "; ")))
}

// missing returns the requesting user and the permissions of attrs they lack, described, in the order of attrs.
func (a Authorizer) missing(ctx context.Context, attrs []authorizationv1.ResourceAttributes) (string, []string, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return "", nil, errors.New("no admission request in context: cannot tell who is asking")
	}
	allowed := make([]bool, len(attrs))
	errs := make([]error, len(attrs))
	// One review per permission, at most reviewParallelism at once: the API server answers each in about a round
	// trip, and a create waits for all of them (up to 301 for 100 destinations with rollouts).
	sem := make(chan struct{}, reviewParallelism)
	var wg sync.WaitGroup
	for i, attr := range attrs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			allowed[i], errs[i] = a.allowed(ctx, req.UserInfo, attr)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", nil, fmt.Errorf("checking the requesting user's rights: %w", err)
	}
	var missing []string // In the order of attrs, so the message is stable.
	for i, attr := range attrs {
		if !allowed[i] {
			missing = append(missing, describePermission(attr))
		}
	}
	return req.UserInfo.Username, missing, nil
}

func (a Authorizer) allowed(ctx context.Context, user authenticationv1.UserInfo, attr authorizationv1.ResourceAttributes) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(user.Extra))
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra, ResourceAttributes: &attr,
	}}
	if a.Decisions.allowedNow(sar.Spec) {
		return true, nil
	}
	if err := a.Client.Create(ctx, sar); err != nil {
		return false, err
	}
	if sar.Status.Allowed {
		a.Decisions.rememberAllowed(sar.Spec)
	}
	return sar.Status.Allowed, nil
}

func describePermission(attr authorizationv1.ResourceAttributes) string {
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

// recordRequester sets RequestedByAnnotation to the requesting user when the source or destinations are set or
// changed, and otherwise keeps the recorded value, whatever the request says.
func recordRequester(ctx context.Context, cms *syncv1.ConfigMapSync) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil // Called outside an admission request (unit tests of defaulting): nothing to record.
	}
	requester := req.UserInfo.Username
	if len(req.OldObject.Raw) > 0 {
		old := &syncv1.ConfigMapSync{}
		if err := decodeV1(req.OldObject.Raw, old); err != nil {
			return err
		}
		if sameRequest(old, cms) {
			requester = old.Annotations[RequestedByAnnotation]
		}
	}
	if cms.Annotations == nil {
		cms.Annotations = map[string]string{}
	}
	if requester == "" {
		delete(cms.Annotations, RequestedByAnnotation)
		return nil
	}
	cms.Annotations[RequestedByAnnotation] = requester
	return nil
}

// sameRequest reports whether an update leaves alone everything the requesting user's rights were checked for.
func sameRequest(old, cms *syncv1.ConfigMapSync) bool {
	return equality.Semantic.DeepEqual(old.Spec.Source, cms.Spec.Source) &&
		equality.Semantic.DeepEqual(old.Spec.Destination, cms.Spec.Destination) &&
		equality.Semantic.DeepEqual(old.Spec.Rollout, cms.Spec.Rollout) &&
		old.Spec.ConflictPolicy == cms.Spec.ConflictPolicy // Adopt writes over objects the user names.
}
