package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
)

// RequestedByAnnotation records the user whose rights authorized the current source and destinations of a
// ConfigMapSync; kept here under its old name for code that imports it from this package.
const RequestedByAnnotation = access.RequestedByAnnotation

// Authorizer checks that the user asking for a sync could make the copies themselves. The operator's
// ServiceAccount can read every Secret and write everywhere: without this check, anyone allowed to create a
// ConfigMapSync could use it to read a Secret they cannot read or write into a namespace they cannot write.
type Authorizer struct {
	// Client creates SubjectAccessReviews.
	Client client.Client
	// Decisions, when set, reuses allowed reviews for a few seconds.
	Decisions *access.Decisions
}

// Authorize returns a Forbidden error naming every permission the requesting user lacks. An update that leaves
// source and destination as they were needs no new check: the rights were checked when they were set.
func (a Authorizer) Authorize(ctx context.Context, old, cms *syncv1.ConfigMapSync) error {
	if old != nil && sameRequest(old, cms) {
		return nil
	}
	user, missing, err := a.missing(ctx, access.Needs(cms))
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
	user, missing, err := a.missing(ctx, access.WorkloadPatches(ms.Namespace))
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
	lacking, err := access.Reviewer{Client: a.Client, Decisions: a.Decisions}.Missing(ctx, req.UserInfo, attrs)
	if err != nil {
		return "", nil, fmt.Errorf("checking the requesting user's rights: %w", err)
	}
	var missing []string // In the order of attrs, so the message is stable.
	for _, attr := range lacking {
		missing = append(missing, access.Describe(attr))
	}
	return req.UserInfo.Username, missing, nil
}

// recordRequester records the requesting user, by name in RequestedByAnnotation and whole (UID, groups, extra) in
// access.RequestedByIdentityAnnotation, when the source or destinations are set or changed: the controller
// re-checks that user's rights at every sync. Otherwise it keeps the recorded values, whatever the request says,
// but for one case: the recorded user changing the object themselves has their identity recorded anew, which is
// how an object admitted before identities were recorded gets one without a change of spec.
func recordRequester(ctx context.Context, cms *syncv1.ConfigMapSync) error {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return nil // Called outside an admission request (unit tests of defaulting): nothing to record.
	}
	requester, identity := req.UserInfo.Username, access.EncodeIdentity(req.UserInfo)
	if len(req.OldObject.Raw) > 0 {
		old := &syncv1.ConfigMapSync{}
		if err := decodeV1(req.OldObject.Raw, old); err != nil {
			return err
		}
		if sameRequest(old, cms) && old.Annotations[RequestedByAnnotation] != requester {
			requester, identity = old.Annotations[RequestedByAnnotation], old.Annotations[access.RequestedByIdentityAnnotation]
		}
	}
	if cms.Annotations == nil {
		cms.Annotations = map[string]string{}
	}
	setOrDelete(cms.Annotations, RequestedByAnnotation, requester)
	if requester == "" {
		identity = "" // No identity without a name: nothing could tell whose it is.
	}
	setOrDelete(cms.Annotations, access.RequestedByIdentityAnnotation, identity)
	return nil
}

// setOrDelete sets annotations[key] to value, or deletes it when value is empty.
func setOrDelete(annotations map[string]string, key, value string) {
	if value == "" {
		delete(annotations, key)
		return
	}
	annotations[key] = value
}

// sameRequest reports whether an update leaves alone everything the requesting user's rights were checked for.
func sameRequest(old, cms *syncv1.ConfigMapSync) bool {
	return equality.Semantic.DeepEqual(old.Spec.Source, cms.Spec.Source) &&
		equality.Semantic.DeepEqual(old.Spec.Destination, cms.Spec.Destination) &&
		equality.Semantic.DeepEqual(old.Spec.Rollout, cms.Spec.Rollout) &&
		old.Spec.ConflictPolicy == cms.Spec.ConflictPolicy // Adopt writes over objects the user names.
}
