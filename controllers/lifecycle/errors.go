package lifecycle

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// Described wraps err, when there is one, with what was done to which object: kind, namespace and name, never data.
// The API server's answer about a Secret is redacted first (redacted, redact.go), since its message can quote the data.
func Described(action syncer.Action, obj client.Object, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", action, Describe(obj), redacted(obj, err))
}

// Classify makes err terminal when a retry cannot fix it.
func Classify(err error) error { return ClassifyAll([]error{err}) }

// ClassifyAll joins the errors of one sync's destinations. When every failure is one a retry cannot fix, the result is
// terminal: the controller stops retrying until the ConfigMapSync changes, and the Stalled condition says why. One
// failure that a retry may fix keeps the retries going for all, whatever order the destinations came in.
func ClassifyAll(errs []error) error {
	joined := errors.Join(errs...)
	if joined == nil {
		return nil
	}
	for _, err := range errs {
		if err != nil && !IsPermanent(err) {
			return joined
		}
	}
	return reconcile.TerminalError(joined)
}

// IsPermanent reports whether a retry cannot fix err: the API server refused the request itself (forbidden,
// invalid, too large), not a state that may pass.
func IsPermanent(err error) bool {
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return false // The namespace is going away; the namespace watch drops it from the targets.
	}
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsRequestEntityTooLargeError(err)
}
