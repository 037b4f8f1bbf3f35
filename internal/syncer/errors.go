package syncer

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// InvalidSpecError is a spec the operator cannot act on. The schema and the webhook reject all of these; the
// controllers check again so that an object that slipped past them (created while the webhook was not called, or
// stored by an older release) stalls with the field and the rule named instead of doing something unexpected.
type InvalidSpecError struct{ Msg string }

func (e *InvalidSpecError) Error() string { return e.Msg }

// InvalidSpec returns a terminal InvalidSpecError: retrying cannot fix a spec, editing it can.
func InvalidSpec(format string, args ...any) error {
	return reconcile.TerminalError(&InvalidSpecError{Msg: fmt.Sprintf(format, args...)})
}
