package configmapsync

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	"github.com/configmapsync/configmapsync-operator/internal/metrics"
)

// maxNamedUnproven bounds how many objects an UnprovenOwnership event names.
const maxNamedUnproven = 5

// unprovenReports remembers, per owner UID, the objects last reported as claiming it without a proof, so that a
// resync that finds the same ones adds no event.
type unprovenReports struct {
	mu   sync.Mutex
	last map[types.UID]string
}

// changed records what was found for uid and reports whether it differs from the last report.
func (u *unprovenReports) changed(uid types.UID, found string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[types.UID]string{}
	}
	if u.last[uid] == found {
		return false
	}
	if found == "" {
		delete(u.last, uid)
	} else {
		u.last[uid] = found
	}
	return true
}

// reportUnproven counts the objects that carry the ownership labels of cms without a valid proof, and records a
// Warning event naming them when they change: someone labelled an object as a copy (a forgery, or a copy whose
// proof was lost with the key). They are left alone: never written, pruned, released or deleted.
func (r *Reconciler) reportUnproven(cms *syncv1.ConfigMapSync, kind string, unproven []client.Object) {
	metrics.SetUnproven(client.ObjectKeyFromObject(cms), kind, len(unproven))
	names := make([]string, 0, len(unproven))
	for _, obj := range unproven {
		names = append(names, obj.GetNamespace()+"/"+obj.GetName())
	}
	slices.Sort(names)
	if !r.unproven.changed(cms.UID, strings.Join(names, ",")) || len(names) == 0 {
		return
	}
	emitUnproven(r.Recorder, cms, kind, names)
}

// emitUnproven records the Warning event of reportUnproven.
func emitUnproven(rec recorder.EventRecorder, obj client.Object, kind string, names []string) {
	shown := names[:min(len(names), maxNamedUnproven)]
	more := ""
	if len(names) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(names)-len(shown))
	}
	rec.Eventf(obj, nil, corev1.EventTypeWarning, syncv1.EventReasonUnprovenOwnership, "Sync",
		"%d %s(s) carry this object's ownership labels without a valid ownership proof and are left alone (never "+
			"written, pruned or deleted): %s%s", len(names), kind, strings.Join(shown, ", "), more)
}
