package lifecycle

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
)

const quoted = "s3cr3t-value"

func TestRedacted_LeavesNoQuotedValueAndKeepsTheClassification(t *testing.T) {
	secret := &corev1.Secret{}
	secret.Namespace, secret.Name = "team-b", "db"
	secretsGR := schema.GroupResource{Resource: "secrets"}
	policyDenial := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "db", nil)
	policyDenial.ErrStatus.Message = "secrets \"db\" is forbidden: ValidatingAdmissionPolicy 'no-bad' with binding 'b' denied request: found " + quoted
	webhookDenial := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden,
		Reason: metav1.StatusReasonForbidden, Message: `admission webhook "scan.example.com" denied the request: value ` + quoted}}
	cases := map[string]struct {
		err       error
		keeps     string
		permanent bool
	}{
		"invalid": {apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "db", field.ErrorList{
			field.Invalid(field.NewPath("data").Key(".dockerconfigjson"), quoted, "invalid character 's' looking for beginning of value"),
		}), "data[.dockerconfigjson]: FieldValueInvalid", true},
		"policy":     {policyDenial, "ValidatingAdmissionPolicy 'no-bad' with binding 'b' denied request", true},
		"webhook":    {webhookDenial, `admission webhook "scan.example.com" denied the request`, true},
		"badrequest": {apierrors.NewBadRequest("cannot decode " + quoted), "400 BadRequest", true},
		"unknown reason": {&apierrors.StatusError{ErrStatus: metav1.Status{Code: 499, Reason: "Custom", Message: quoted}},
			"499 Custom", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			red := Described(syncer.ActionUpdate, secret, c.err)
			assert.NotContains(t, red.Error(), quoted)
			assert.Contains(t, red.Error(), "Update Secret team-b/db")
			assert.Contains(t, red.Error(), c.keeps)
			assert.Equal(t, IsPermanent(c.err), IsPermanent(red), "the classification is the same")
			assert.Equal(t, c.permanent, IsPermanent(red))
			assert.Equal(t, apierrors.ReasonForError(c.err), apierrors.ReasonForError(red))
		})
	}

	// Answers built from names only are kept whole; other objects' errors too.
	rbac := apierrors.NewForbidden(secretsGR, "db", errors.New(`User "system:serviceaccount:x:y" cannot update resource "secrets"`))
	assert.Same(t, rbac, errors.Unwrap(Described(syncer.ActionUpdate, secret, rbac)))
	terminating := terminatingNamespaceForbidden("team-b")
	assert.False(t, IsPermanent(Described(syncer.ActionCreate, secret, terminating)))
	cmInvalid := apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "db", field.ErrorList{field.Invalid(field.NewPath("data"), "x", "not "+quoted)})
	cm := &corev1.ConfigMap{}
	assert.Contains(t, Described(syncer.ActionUpdate, cm, cmInvalid).Error(), quoted, "a ConfigMap's data is no secret; its errors say it all")
	view := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "Secret"}}
	assert.NotContains(t, Described("Delete", view, webhookDenial).Error(), quoted, "metadata-only views of Secrets too")
}
