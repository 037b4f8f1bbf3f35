package lifecycle

import (
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

// redacted returns err with nothing left in it that could quote the data of obj, when obj is a Secret (a copy of
// a ConfigMapSync, or a ManagedSecret's Secret): every error from writing one passes here (through described)
// before it is wrapped into status, events and logs. Errors about other objects are returned as they are.
func redacted(obj client.Object, err error) error {
	if err == nil || !isSecret(obj) {
		return err
	}
	return redactSecretError(err)
}

// isSecret reports whether obj is a Secret: typed, or a metadata-only or other view that says its kind.
func isSecret(obj client.Object) bool {
	if _, ok := obj.(*corev1.Secret); ok {
		return true
	}
	return obj.GetObjectKind().GroupVersionKind().Kind == syncer.KindSecret || KindName(obj) == syncer.KindSecret
}

// redactSecretError removes from an API error about a Secret whatever could quote its values, and keeps its
// status code, reason and the fields and types of its causes, so that it is classified (permanent or not) as
// before. The API server's own validation messages can quote part of a value (a Secret of type
// kubernetes.io/dockerconfigjson whose content is not JSON), and an admission webhook or policy that denies a write
// says what it likes (a ValidatingAdmissionPolicy's messageExpression can print the data). Answers built from
// names only (NotFound, Conflict, AlreadyExists, RBAC and quota refusals, timeouts) are kept as they are.
func redactSecretError(err error) error {
	var se *apierrors.StatusError
	if !errors.As(err, &se) {
		return err // Not an answer of the API server: a transport error, the harness's injected faults.
	}
	msg := se.ErrStatus.Message
	switch by := admissionDenial(msg); {
	case by != "":
		msg = by + " (its message is left out: it could quote the Secret's values)"
	case apierrors.IsInvalid(err):
		msg = "the API server rejected the Secret as invalid (details that could quote values are left out)"
	case quotesNothing(se.ErrStatus.Reason):
		return err
	default:
		msg = fmt.Sprintf("the API server refused the Secret (%d %s; its message is left out: it could quote the Secret's values)",
			se.ErrStatus.Code, se.ErrStatus.Reason)
	}
	st := se.ErrStatus
	var parts []string
	if st.Details != nil {
		details := *st.Details
		details.Causes = nil
		for _, c := range st.Details.Causes {
			details.Causes = append(details.Causes, metav1.StatusCause{Type: c.Type, Field: c.Field})
			parts = append(parts, fmt.Sprintf("%s: %s", c.Field, c.Type))
		}
		st.Details = &details
	}
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, "; ")
	}
	st.Message = msg
	return &apierrors.StatusError{ErrStatus: st}
}

// admissionDenial returns the part of a message that names the admission webhook or policy that denied a request,
// "" when it is not such a denial. What follows that part is the webhook's or policy's own text.
func admissionDenial(msg string) string {
	for _, marker := range []string{"denied the request", "denied request"} {
		if i := strings.Index(msg, marker); i >= 0 && (strings.Contains(msg[:i], "admission webhook") || strings.Contains(strings.ToLower(msg[:i]), "policy")) {
			return msg[:i+len(marker)]
		}
	}
	return ""
}

// quotesNothing reports whether the API server builds the messages of reason from names and numbers only.
func quotesNothing(reason metav1.StatusReason) bool {
	switch reason {
	case metav1.StatusReasonNotFound, metav1.StatusReasonAlreadyExists, metav1.StatusReasonConflict, metav1.StatusReasonGone,
		metav1.StatusReasonExpired, metav1.StatusReasonTimeout, metav1.StatusReasonServerTimeout, metav1.StatusReasonTooManyRequests,
		metav1.StatusReasonServiceUnavailable, metav1.StatusReasonUnauthorized, metav1.StatusReasonForbidden,
		metav1.StatusReasonMethodNotAllowed, metav1.StatusReasonNotAcceptable, metav1.StatusReasonUnsupportedMediaType,
		metav1.StatusReasonRequestEntityTooLarge, metav1.StatusReasonInternalError:
		return true
	}
	return false
}
