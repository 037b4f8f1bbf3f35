package configmapsync

import (
	"context"
	"fmt"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/access"
	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// The admission webhook checks once that the user asking for a ConfigMapSync may read its source and write its
// destinations; rights change afterwards. So every sync asks again, as that user (recorded whole by the mutating
// webhook: name, UID, groups, extra), through SubjectAccessReviews whose decisions are reused for a few seconds
// (access.NewRechecker). What the user may no longer do, the operator no longer does for them: it reads no
// source it may not read and writes or deletes nothing where it may not write, and keeps the copies as they are.
// The periodic resync asks again, so a right granted again takes effect at the next sync.

// accessCheck is what re-checking a ConfigMapSync's requester found.
type accessCheck struct {
	// user is the requester whose rights were checked.
	user string
	// unchecked says why the rights were not re-checked; "" when they were, or when no Reviewer is set.
	unchecked string
	// source lists the permissions to read the source that the requester lacks.
	source []authorizationv1.ResourceAttributes
	// denied lists, by namespace ("" for all namespaces, a selector's scope), the permissions to write there that
	// the requester lacks.
	denied map[string][]authorizationv1.ResourceAttributes
}

// checkAccess re-checks that the requester recorded on cms may still do what cms asks for. A ConfigMapSync
// admitted before the whole identity was recorded is not re-checked: a name alone would miss every right granted
// to a group, and stop syncs the admission check allowed; the status says so until the identity is recorded (a
// spec change, or any change by the recorded user). Errors (the API server did not answer) fail the sync.
func (r *Reconciler) checkAccess(ctx context.Context, cms *syncv1.ConfigMapSync) (accessCheck, error) {
	if r.Access == nil {
		return accessCheck{}, nil
	}
	user, ok := access.RecordedRequester(cms)
	if !ok {
		return accessCheck{unchecked: uncheckedReason(cms)}, nil
	}
	missing, err := r.Access.Missing(ctx, user, access.Needs(cms))
	if err != nil {
		return accessCheck{}, fmt.Errorf("re-checking the rights of the requester %q: %w", user.Username, err)
	}
	check := accessCheck{user: user.Username}
	source := access.Source(cms)
	for _, attr := range missing {
		if attr == source {
			check.source = append(check.source, attr)
			continue
		}
		if check.denied == nil {
			check.denied = map[string][]authorizationv1.ResourceAttributes{}
		}
		check.denied[attr.Namespace] = append(check.denied[attr.Namespace], attr)
	}
	if len(missing) > 0 {
		logf.FromContext(ctx).V(1).Info("The requester lacks rights", "user", user.Username, "missing", access.DescribeAll(missing))
	}
	return check, nil
}

// uncheckedReason says why cms's requester is not re-checked, for its status.
func uncheckedReason(cms *syncv1.ConfigMapSync) string {
	name := cms.Annotations[access.RequestedByAnnotation]
	if name == "" {
		return "the requester's rights are not re-checked: no requester is recorded (admitted before the webhook recorded one); " +
			"a change of source or destinations records and checks one"
	}
	return fmt.Sprintf("the rights of the requester %q are not re-checked: only the name was recorded at admission, and most rights "+
		"are granted to groups; any change by %q, or a change of source or destinations, records the whole identity", name, name)
}

// forbidden returns the permissions the requester lacks to write copies in namespace.
func (c accessCheck) forbidden(namespace string) []authorizationv1.ResourceAttributes {
	return slices.Concat(c.denied[""], c.denied[namespace])
}

// splitAllowed splits namespaces into those the requester may still write and the results of those they may not,
// where nothing is written.
func (c accessCheck) splitAllowed(namespaces []string) (allowed []string, forbidden []destinationResult) {
	if len(c.denied) == 0 {
		return namespaces, nil
	}
	for _, ns := range namespaces {
		if missing := c.forbidden(ns); len(missing) > 0 {
			forbidden = append(forbidden, destinationResult{namespace: ns, action: syncer.ActionNone, forbidden: missing})
			continue
		}
		allowed = append(allowed, ns)
	}
	return allowed, forbidden
}

// prunable splits copies no longer wanted into those the requester may still delete and the results of the
// namespaces where they may not, where the copies are kept. A namespace that is no longer a destination (unlisted)
// is asked about on its own: the rights to delete there were only checked while it was listed.
func (r *Reconciler) prunable(ctx context.Context, cms *syncv1.ConfigMapSync, check accessCheck, stale []client.Object) ([]client.Object, []destinationResult, error) {
	if r.Access == nil || check.user == "" || len(stale) == 0 {
		return stale, nil, nil
	}
	user, _ := access.RecordedRequester(cms)
	var keep []client.Object
	kept := map[string]bool{}
	var out []destinationResult
	for _, obj := range stale {
		ns := obj.GetNamespace()
		missing := check.forbidden(ns)
		if len(missing) == 0 && !slices.Contains(access.Scopes(cms), ns) && !slices.Contains(access.Scopes(cms), "") {
			del := authorizationv1.ResourceAttributes{Verb: "delete", Resource: access.Source(cms).Resource, Namespace: ns}
			var err error
			if missing, err = r.Access.Missing(ctx, user, []authorizationv1.ResourceAttributes{del}); err != nil {
				return nil, nil, fmt.Errorf("re-checking the rights of the requester %q: %w", user.Username, err)
			}
		}
		if len(missing) == 0 {
			keep = append(keep, obj)
			continue
		}
		if !kept[ns] && !slices.Contains(access.Scopes(cms), ns) { // A listed one is reported as a destination already.
			kept[ns] = true
			out = append(out, destinationResult{namespace: ns, action: syncer.ActionNone, forbidden: missing, stale: true})
		}
	}
	return keep, out, nil
}

// forbiddenMessage explains a Forbidden destination in its status.
func forbiddenMessage(user string, d destinationResult) string {
	what := "write"
	if d.stale {
		what = "delete the copy no longer wanted"
	}
	return fmt.Sprintf("the requester %q may no longer %s here (missing: %s); nothing is written or deleted here and the copy is kept",
		user, what, access.DescribeAll(d.forbidden))
}
