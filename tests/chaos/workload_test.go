//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
)

const (
	// sourceNS holds every source and every ConfigMapSync; no ConfigMapSync ever targets it.
	sourceNS = "chaos-src"
	// destinations is how many destination namespaces there are: chaos-dst-0 ... chaos-dst-5.
	destinations = 6
	// tierLabel selects destination namespaces for the ConfigMapSyncs that use a selector; the workload moves it.
	tierLabel = "chaos.configmapsync.io/tier"
	// takenName is a ConfigMap a user owns in chaos-dst-0; the conflictSync ConfigMapSync wants a copy there
	// with that name, and must leave it alone.
	takenName    = "taken"
	conflictSync = "conflict"
	// adoptSync adopts the object another tool left in chaos-dst-1 under its copy's name, and lives to the end.
	adoptSync = "adopt"
	// unrelatedName is a ConfigMap and a Secret in every namespace that no ConfigMapSync names.
	unrelatedName = "unrelated"
	// maxLive bounds the ConfigMapSyncs alive at once (besides conflictSync).
	maxLive = 16
	// opDeadline bounds one workload operation with its retries; the API server restart takes a few seconds.
	opDeadline = 20 * time.Second
)

// destNS returns the name of destination namespace i.
func destNS(i int) string { return fmt.Sprintf("chaos-dst-%d", i) }

// workload is what users do while the faults run: it changes sources, creates, changes and deletes
// ConfigMapSyncs (v1, and v1beta1 through the conversion webhook), and moves namespace labels. It talks to the API
// server directly, not through the proxy, and retries what fails: the faults are for the operator.
type workload struct {
	rng *rand.Rand
	// next numbers new objects, so that no name is ever used twice.
	next int
	// live are the ConfigMapSyncs the workload may change or delete; beta marks those created as v1beta1.
	live []string
	beta map[string]bool
	// deleted are the ConfigMapSyncs the workload deleted: all must be gone at the end.
	deleted []string
	// sources are the ConfigMaps (and one Secret, secret-0) the ConfigMapSyncs copy.
	sources []string
	stats   workloadStats
}

// workloadStats counts what the workload did.
type workloadStats struct {
	created, createdBeta, updated, deleted, sourceUpdates, labelChanges, failed int
	// leftBehind counts the objects left in a copy's way for a ConfigMapSync to adopt.
	leftBehind int
}

func newWorkload(seed uint64) *workload {
	return &workload{rng: rand.New(rand.NewPCG(seed, 2)), beta: map[string]bool{}}
}

// setup creates the namespaces, sources, the objects nobody but their user may touch, and the first
// ConfigMapSyncs. It returns the protected objects.
func (w *workload) setup() ([]client.Object, error) {
	for i := -1; i < destinations; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sourceNS}}
		if i >= 0 {
			ns.Name = destNS(i)
			if i >= 3 {
				ns.Labels = map[string]string{tierLabel: "blue"}
			}
		}
		if err := w.create(ns); err != nil {
			return nil, err
		}
	}
	for i := range 4 {
		name := fmt.Sprintf("cfg-%d", i)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: name},
			Data: map[string]string{"value": "0", "name": name}}
		if i == 3 {
			cm.BinaryData = map[string][]byte{"blob": {0, 1, 2}}
		}
		if err := w.create(cm); err != nil {
			return nil, err
		}
		w.sources = append(w.sources, name)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: "secret-0"},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"token": []byte(w.secretValue())}}
	if err := w.create(secret); err != nil {
		return nil, err
	}
	w.sources = append(w.sources, secret.Name)

	protected, err := w.createProtected()
	if err != nil {
		return nil, err
	}
	conflict := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: conflictSync},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "cfg-0"},
			Destination: syncv1.Destination{Namespaces: []string{destNS(0), destNS(1)}, Name: takenName},
		},
	}
	if err := w.create(conflict); err != nil {
		return nil, err
	}
	adopt := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: adoptSync},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:      syncv1.SourceReference{Name: "cfg-0"},
			Destination: syncv1.Destination{Namespaces: []string{destNS(1)}, Name: "left-behind"},
		},
	}
	w.leaveCopyBehind(adopt)
	if err := w.create(adopt); err != nil {
		return nil, err
	}
	for range 6 {
		w.createV1()
	}
	for range 2 {
		w.createBeta()
	}
	return protected, nil
}

// createProtected creates the user's ConfigMap in the copy's way and the unrelated objects in every namespace.
func (w *workload) createProtected() ([]client.Object, error) {
	objs := []client.Object{&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: destNS(0), Name: takenName, Labels: map[string]string{"owner": "someone-else"}},
		Data:       map[string]string{"mine": "do not touch"},
	}}
	for i := -1; i < destinations; i++ {
		ns := sourceNS
		if i >= 0 {
			ns = destNS(i)
		}
		objs = append(objs,
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unrelatedName}, Data: map[string]string{"a": "b"}},
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unrelatedName},
				Data: map[string][]byte{"password": []byte(w.secretValue())}})
	}
	for _, obj := range objs {
		if err := w.create(obj); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// run does random operations until ctx ends.
func (w *workload) run(ctx context.Context) {
	for ctx.Err() == nil {
		w.step()
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(150+w.rng.IntN(200)) * time.Millisecond):
		}
	}
}

// step does one random operation; sources change most often, as they do in real clusters.
func (w *workload) step() {
	n := w.rng.IntN(100)
	switch {
	case n < 45:
		w.updateSource()
	case n < 60 && len(w.live) < maxLive:
		w.createV1()
	case n < 65 && len(w.live) < maxLive:
		w.createBeta()
	case n < 83 && len(w.live) > 0:
		w.updateSync()
	case n < 92 && len(w.live) > 3:
		w.deleteSync()
	default:
		w.moveLabel()
	}
}

// createV1 creates a v1 ConfigMapSync with a random source, destinations and policy. Every one names its copies
// after itself, so that no two ConfigMapSyncs want the same copy.
func (w *workload) createV1() {
	w.next++
	name := fmt.Sprintf("sync-%d", w.next)
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: name},
		Spec: syncv1.ConfigMapSyncSpec{
			Source:        syncv1.SourceReference{Name: w.sources[w.rng.IntN(len(w.sources))]},
			Destination:   syncv1.Destination{Name: "copy-" + name},
			SyncFrequency: []string{"10s", "30s", "5m"}[w.rng.IntN(3)],
		},
	}
	if cms.Spec.Source.Name == "secret-0" {
		cms.Spec.Source.Kind = syncv1.SourceKindSecret
	}
	if w.rng.IntN(100) < 30 {
		cms.Spec.Destination.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{tierLabel: "blue"}}
	} else {
		cms.Spec.Destination.Namespaces = w.someDestinations()
	}
	if w.rng.IntN(100) < 15 {
		cms.Spec.DeletionPolicy = syncv1.DeletionPolicyOrphan
	}
	if w.rng.IntN(100) < 25 {
		// Some keys, one renamed, and one glob that no source matches: the copies hold only what matched.
		cms.Spec.Source.Keys = []syncv1.KeySelector{{Key: "value", As: "renamed-value"}, {Key: "b*"}, {Key: "*.none"}}
	}
	if w.rng.IntN(100) < 25 {
		cms.Spec.Destination.ExcludeNamespaces = []string{destNS(1+w.rng.IntN(destinations-1)) + "*"}
	}
	if w.rng.IntN(100) < 20 && cms.Spec.Source.Kind != syncv1.SourceKindSecret && len(cms.Spec.Destination.Namespaces) > 0 {
		w.leaveCopyBehind(cms)
	}
	if w.try(func(ctx context.Context) error { return ignoreAlreadyExists(k8s.Create(ctx, cms.DeepCopy())) }) {
		w.live = append(w.live, name)
		w.stats.created++
	}
}

// leaveCopyBehind puts an unlabelled object of the copy's name in cms's first destination, as another tool would
// have left it, and makes cms adopt it: the invariants then find it a copy owned by cms, with its source's content.
func (w *workload) leaveCopyBehind(cms *syncv1.ConfigMapSync) {
	left := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: cms.Spec.Destination.Namespaces[0], Name: cms.Spec.Destination.Name},
		Data:       map[string]string{"left-by": "another tool"},
	}
	if w.try(func(ctx context.Context) error { return ignoreAlreadyExists(k8s.Create(ctx, left)) }) {
		cms.Spec.ConflictPolicy = syncv1.ConflictPolicyAdopt
		w.stats.leftBehind++
	}
}

// createBeta creates a v1beta1 ConfigMapSync, through the conversion webhook, with a source of its own (v1beta1
// has no copy name: the copy is named after the source, so sharing a source could make two of them collide).
func (w *workload) createBeta() {
	w.next++
	name := fmt.Sprintf("beta-%d", w.next)
	src := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: name}, Data: map[string]string{"value": "0"}}
	if !w.try(func(ctx context.Context) error { return ignoreAlreadyExists(k8s.Create(ctx, src.DeepCopy())) }) {
		return
	}
	w.sources = append(w.sources, name)
	cms := &syncv1beta1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: name},
		Spec: syncv1beta1.ConfigMapSyncSpec{
			SourceNamespace: sourceNS, DestinationNamespace: destNS(1 + w.rng.IntN(destinations-1)),
			ConfigMapName: name, SyncStrategy: syncv1beta1.SyncStrategyAutomatic,
		},
	}
	if w.try(func(ctx context.Context) error { return ignoreAlreadyExists(k8s.Create(ctx, cms.DeepCopy())) }) {
		w.live = append(w.live, name)
		w.beta[name] = true
		w.stats.created++
		w.stats.createdBeta++
	}
}

// updateSync changes a live ConfigMapSync's spec: v1beta1 ones through v1beta1 (conversion both ways), v1 ones
// by moving destinations, renaming the copies, or changing the frequency or the deletion policy.
func (w *workload) updateSync() {
	name := w.live[w.rng.IntN(len(w.live))]
	key := client.ObjectKey{Namespace: sourceNS, Name: name}
	choice, dest, freq := w.rng.IntN(4), w.someDestinations(), []string{"10s", "30s", "5m"}[w.rng.IntN(3)]
	w.next++
	rename := fmt.Sprintf("copy-%s-r%d", name, w.next)
	var ok bool
	if w.beta[name] {
		ok = w.try(func(ctx context.Context) error {
			cms := &syncv1beta1.ConfigMapSync{}
			if err := k8s.Get(ctx, key, cms); err != nil {
				return err
			}
			cms.Spec.DestinationNamespace = dest[0]
			return k8s.Update(ctx, cms)
		})
	} else {
		ok = w.try(func(ctx context.Context) error {
			cms := &syncv1.ConfigMapSync{}
			if err := k8s.Get(ctx, key, cms); err != nil {
				return err
			}
			mutateSpec(&cms.Spec, choice, dest, freq, rename)
			return k8s.Update(ctx, cms)
		})
	}
	if ok {
		w.stats.updated++
	}
}

// mutateSpec applies one of the v1 spec changes.
func mutateSpec(spec *syncv1.ConfigMapSyncSpec, choice int, dest []string, freq, rename string) {
	switch choice {
	case 0:
		if spec.Destination.NamespaceSelector == nil {
			spec.Destination.Namespaces = dest
		} else {
			spec.Destination.Namespaces = dest[:1] // A selector and a listed namespace together.
		}
	case 1:
		spec.Destination.Name = rename
	case 2:
		spec.SyncFrequency = freq
	default:
		if spec.DeletionPolicy == syncv1.DeletionPolicyOrphan {
			spec.DeletionPolicy = syncv1.DeletionPolicyDelete
		} else {
			spec.DeletionPolicy = syncv1.DeletionPolicyOrphan
		}
	}
}

// deleteSync deletes a live ConfigMapSync; the finalizer must clean up its copies.
func (w *workload) deleteSync() {
	i := w.rng.IntN(len(w.live))
	name := w.live[i]
	cms := &syncv1.ConfigMapSync{ObjectMeta: metav1.ObjectMeta{Namespace: sourceNS, Name: name}}
	if w.try(func(ctx context.Context) error { return client.IgnoreNotFound(k8s.Delete(ctx, cms)) }) {
		w.live = slices.Delete(w.live, i, i+1)
		w.deleted = append(w.deleted, name)
		w.stats.deleted++
	}
}

// updateSource changes one source's data: a new value, and sometimes a key more or less.
func (w *workload) updateSource() {
	name := w.sources[w.rng.IntN(len(w.sources))]
	key := client.ObjectKey{Namespace: sourceNS, Name: name}
	w.next++
	value, extra, drop := strconv.Itoa(w.next), fmt.Sprintf("k%d", w.rng.IntN(3)), w.rng.IntN(4) == 0
	ok := w.try(func(ctx context.Context) error {
		if name == "secret-0" {
			s := &corev1.Secret{}
			if err := k8s.Get(ctx, key, s); err != nil {
				return err
			}
			s.Data["token"] = []byte(w.secretValue())
			return k8s.Update(ctx, s)
		}
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, key, cm); err != nil {
			return err
		}
		cm.Data["value"] = value
		if drop {
			delete(cm.Data, extra)
		} else {
			cm.Data[extra] = value
		}
		return k8s.Update(ctx, cm)
	})
	if ok {
		w.stats.sourceUpdates++
	}
}

// moveLabel adds or removes the tier label of a destination namespace, so selector-based destinations change.
func (w *workload) moveLabel() {
	key := client.ObjectKey{Name: destNS(1 + w.rng.IntN(destinations-1))}
	if w.try(func(ctx context.Context) error {
		ns := &corev1.Namespace{}
		if err := k8s.Get(ctx, key, ns); err != nil {
			return err
		}
		if ns.Labels[tierLabel] == "" {
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[tierLabel] = "blue"
		} else {
			delete(ns.Labels, tierLabel)
		}
		return k8s.Update(ctx, ns)
	}) {
		w.stats.labelChanges++
	}
}

// someDestinations returns 1-3 distinct destination namespaces, never chaos-dst-0 (where only conflictSync goes).
func (w *workload) someDestinations() []string {
	perm := w.rng.Perm(destinations - 1)
	out := make([]string, 0, 3)
	for _, i := range perm[:1+w.rng.IntN(3)] {
		out = append(out, destNS(i+1))
	}
	slices.Sort(out)
	return out
}

// secretValue returns a fresh random value for a Secret; it is never logged.
func (w *workload) secretValue() string {
	return fmt.Sprintf("s3cr3t-%016x", w.rng.Uint64())
}

// create creates obj during setup, retrying while the webhooks come up.
func (w *workload) create(obj client.Object) error {
	var last error
	if !w.try(func(ctx context.Context) error {
		last = ignoreAlreadyExists(k8s.Create(ctx, obj))
		return last
	}) {
		return fmt.Errorf("creating %T %s: %w", obj, client.ObjectKeyFromObject(obj), last)
	}
	return nil
}

// try runs op until it succeeds or opDeadline passes. op gets a context of its own, not the workload's, so that
// the last operation of the workload is not left half done when the workload's time is up.
func (w *workload) try(op func(ctx context.Context) error) bool {
	ctx, cancel := context.WithTimeout(context.Background(), opDeadline)
	defer cancel()
	for {
		if op(ctx) == nil {
			return true
		}
		select {
		case <-ctx.Done():
			w.stats.failed++
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ignoreAlreadyExists treats a create that had already happened (a retry after a lost answer) as success.
func ignoreAlreadyExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}
