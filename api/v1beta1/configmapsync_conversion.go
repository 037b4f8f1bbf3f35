package v1beta1

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/conversion"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// ConversionDataAnnotation keeps, on a v1beta1 object, the parts of its v1 form that v1beta1 has no field for
// (more destinations, a selector, the source kind, conditions...), so that converting back to v1 loses nothing.
// It is only written when the v1 object holds something v1beta1 cannot express.
const ConversionDataAnnotation = "sync.configmapsync.io/conversion-data"

var _ conversion.Convertible = &ConfigMapSync{}

// ConvertTo converts this v1beta1 ConfigMapSync to the hub version, v1.
func (src *ConfigMapSync) ConvertTo(hub conversion.Hub) error {
	dst := hub.(*syncv1.ConfigMapSync)
	saved, err := restoreHub(src)
	if err != nil {
		return err
	}
	src.ObjectMeta.DeepCopyInto(&dst.ObjectMeta)
	if _, ok := dst.Annotations[ConversionDataAnnotation]; ok {
		delete(dst.Annotations, ConversionDataAnnotation)
		if len(dst.Annotations) == 0 {
			dst.Annotations = nil
		}
	}
	dst.Spec, dst.Status = saved.Spec, saved.Status
	specToHub(&src.Spec, &dst.Spec)
	statusToHub(&src.Status, &dst.Status)
	return nil
}

// ConvertFrom converts the hub version, v1, to this v1beta1 ConfigMapSync.
func (dst *ConfigMapSync) ConvertFrom(hub conversion.Hub) error {
	src := hub.(*syncv1.ConfigMapSync)
	src.ObjectMeta.DeepCopyInto(&dst.ObjectMeta)
	// The annotation is only ever written here. One on a v1 object was set by a user through v1 (ConvertTo strips
	// it): trusting it would let them inject fields, and a corrupt one would fail every v1beta1 list that holds it.
	delete(dst.Annotations, ConversionDataAnnotation)
	dst.Spec = specFromHub(&src.Spec)
	dst.Status = statusFromHub(&src.Status)

	// Keep what v1beta1 cannot hold: convert back without the annotation and see whether anything was lost.
	back := &syncv1.ConfigMapSync{}
	if err := dst.DeepCopy().ConvertTo(back); err != nil {
		return err
	}
	if equality.Semantic.DeepEqual(back.Spec, src.Spec) && equality.Semantic.DeepEqual(back.Status, src.Status) {
		return nil
	}
	data, err := json.Marshal(hubData{Spec: src.Spec, Status: src.Status})
	if err != nil {
		return fmt.Errorf("saving v1 fields in %s: %w", ConversionDataAnnotation, err)
	}
	if dst.Annotations == nil {
		dst.Annotations = map[string]string{}
	}
	dst.Annotations[ConversionDataAnnotation] = string(data)
	return nil
}

// hubData is what ConversionDataAnnotation holds.
type hubData struct {
	Spec   syncv1.ConfigMapSyncSpec   `json:"spec"`
	Status syncv1.ConfigMapSyncStatus `json:"status,omitempty"`
}

// restoreHub returns the v1 spec and status saved on src. Without saved fields, the v1-only fields take the
// values a v1beta1 object implies: it copies a ConfigMap, and its copies go with it.
func restoreHub(src *ConfigMapSync) (hubData, error) {
	var saved hubData
	raw, ok := src.Annotations[ConversionDataAnnotation]
	if !ok {
		saved.Spec.Source.Kind = syncv1.DefaultSourceKind
		saved.Spec.DeletionPolicy = syncv1.DefaultDeletionPolicy
		saved.Spec.ConflictPolicy = syncv1.DefaultConflictPolicy
		return saved, nil
	}
	if err := json.Unmarshal([]byte(raw), &saved); err != nil {
		return hubData{}, fmt.Errorf("reading annotation %s: %w", ConversionDataAnnotation, err)
	}
	return saved, nil
}

// specToHub writes the fields v1beta1 holds onto a v1 spec, keeping the v1-only fields already there. v1beta1's
// single destinationNamespace is the first of v1's destination.namespaces.
func specToHub(src *ConfigMapSyncSpec, dst *syncv1.ConfigMapSyncSpec) {
	dst.Source.Namespace = src.SourceNamespace
	dst.Source.Name = src.ConfigMapName
	ns, first := dst.Destination.Namespaces, src.DestinationNamespace
	switch {
	case len(ns) == 0 && first != "":
		ns = []string{first}
	case len(ns) > 0 && first != "":
		ns[0] = first
	case len(ns) > 0 && ns[0] != "":
		// Cleared through v1beta1: the first destination was removed.
		ns = ns[1:]
	}
	if len(ns) == 0 {
		ns = nil
	}
	dst.Destination.Namespaces = ns
	dst.SyncFrequency = src.SyncFrequency
	dst.SyncStrategy = strategyToHub[src.SyncStrategy]
	if dst.SyncStrategy == "" && src.SyncStrategy != "" {
		// Not one of v1beta1's values: carry it as it is and let validation name it.
		dst.SyncStrategy = syncv1.SyncStrategy(src.SyncStrategy)
	}
}

func specFromHub(src *syncv1.ConfigMapSyncSpec) ConfigMapSyncSpec {
	dst := ConfigMapSyncSpec{
		SourceNamespace: src.Source.Namespace,
		ConfigMapName:   src.Source.Name,
		SyncFrequency:   src.SyncFrequency,
		SyncStrategy:    strategyFromHub[src.SyncStrategy],
	}
	if dst.SyncStrategy == "" && src.SyncStrategy != "" {
		dst.SyncStrategy = SyncStrategy(src.SyncStrategy)
	}
	if len(src.Destination.Namespaces) > 0 {
		dst.DestinationNamespace = src.Destination.Namespaces[0]
	}
	return dst
}

func statusToHub(src *ConfigMapSyncStatus, dst *syncv1.ConfigMapSyncStatus) {
	dst.LastSyncTime = src.LastSyncTime.DeepCopy()
	dst.SyncStatus = src.SyncStatus
}

func statusFromHub(src *syncv1.ConfigMapSyncStatus) ConfigMapSyncStatus {
	return ConfigMapSyncStatus{LastSyncTime: src.LastSyncTime.DeepCopy(), SyncStatus: src.SyncStatus}
}

// v1beta1 spells the strategies in lower case, v1 in upper camel case.
var (
	strategyToHub = map[SyncStrategy]syncv1.SyncStrategy{
		SyncStrategyAutomatic: syncv1.SyncStrategyAutomatic,
		SyncStrategyManual:    syncv1.SyncStrategyManual,
	}
	strategyFromHub = map[syncv1.SyncStrategy]SyncStrategy{
		syncv1.SyncStrategyAutomatic: SyncStrategyAutomatic,
		syncv1.SyncStrategyManual:    SyncStrategyManual,
	}
)
