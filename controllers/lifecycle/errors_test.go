package lifecycle

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

var configMapsGR = schema.GroupResource{Resource: "configmaps"}

func isTerminalErr(err error) bool { return errors.Is(err, reconcile.TerminalError(nil)) }

// terminatingNamespaceForbidden is the API server's answer to a create in a namespace being deleted.
func terminatingNamespaceForbidden(namespace string) error {
	err := apierrors.NewForbidden(configMapsGR, "app-config",
		fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", namespace),
		Field:   "metadata.namespace",
	})
	return err
}

func TestClassify(t *testing.T) {
	assert.NoError(t, Classify(nil))
	plain := errors.New("plain")
	assert.False(t, isTerminalErr(Classify(plain)))
	forbidden := fmt.Errorf("create: %w", apierrors.NewForbidden(configMapsGR, "x", errors.New("no")))
	assert.True(t, isTerminalErr(Classify(forbidden)), "wrapped Forbidden")
	assert.True(t, isTerminalErr(Classify(errors.Join(nil, forbidden))), "joined Forbidden")
	assert.False(t, isTerminalErr(Classify(fmt.Errorf("create: %w", terminatingNamespaceForbidden("ns")))))
	assert.False(t, isTerminalErr(Classify(apierrors.NewConflict(configMapsGR, "x", errors.New("rv")))))
	assert.False(t, isTerminalErr(Classify(apierrors.NewNotFound(configMapsGR, "x"))))
}
