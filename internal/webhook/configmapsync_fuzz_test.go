package webhook

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/diff"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// specInput is the part of a ConfigMapSync spec the validation fuzzer varies, in the flat shape `go test -fuzz`
// can mutate.
type specInput struct {
	namespace, sourceNamespace, sourceName, sourceKind string
	// destinations is a comma-separated list; selector is label-selector syntax ("a=b,c in (d)"), or raw
	// matchLabels key=value when it does not parse.
	destinations, destName, selector            string
	syncFrequency, syncStrategy, deletionPolicy string
	rollout                                     bool
	volumeMounts, debounce                      string
}

// build returns the ConfigMapSync the input describes.
func (in specInput) build() *syncv1.ConfigMapSync {
	cms := &syncv1.ConfigMapSync{
		ObjectMeta: metav1.ObjectMeta{Name: "fuzz", Namespace: in.namespace},
		Spec: syncv1.ConfigMapSyncSpec{
			Source: syncv1.SourceReference{
				Kind: syncv1.SourceKind(in.sourceKind), Namespace: in.sourceNamespace, Name: in.sourceName,
			},
			Destination:    syncv1.Destination{Name: in.destName},
			SyncFrequency:  in.syncFrequency,
			SyncStrategy:   syncv1.SyncStrategy(in.syncStrategy),
			DeletionPolicy: syncv1.DeletionPolicy(in.deletionPolicy),
		},
	}
	if in.destinations != "" {
		cms.Spec.Destination.Namespaces = strings.Split(in.destinations, ",")
	}
	if in.selector != "" {
		sel, err := metav1.ParseToLabelSelector(in.selector)
		if err != nil {
			k, v, _ := strings.Cut(in.selector, "=")
			sel = &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
		}
		cms.Spec.Destination.NamespaceSelector = sel
	}
	if in.rollout || in.volumeMounts != "" || in.debounce != "" {
		cms.Spec.Rollout = &syncv1.RolloutPolicy{
			Enabled: in.rollout, VolumeMounts: syncv1.VolumeMountPolicy(in.volumeMounts), Debounce: in.debounce,
		}
	}
	return cms
}

// allowAll is an Authorizer whose SubjectAccessReviews all answer "allowed": the fuzzer checks the rules of the
// spec, not RBAC, and still runs the validator exactly as the webhook calls it.
func allowAll() Authorizer {
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			sar, ok := obj.(*authorizationv1.SubjectAccessReview)
			if !ok {
				return errors.New("only SubjectAccessReviews are expected")
			}
			sar.Status.Allowed = true
			return nil
		},
	}).Build()
	return Authorizer{Client: c}
}

// admit runs the webhook's defaulter and then its validator on cms, in an admission request for a create, and
// returns the validator's error.
func admit(cms *syncv1.ConfigMapSync) error {
	ctx := admission.NewContextWithRequest(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, UserInfo: authenticationv1.UserInfo{Username: "fuzzer"},
	}})
	if err := (ConfigMapSyncDefaulter{}).Default(ctx, cms); err != nil {
		return err
	}
	_, err := ConfigMapSyncValidator{Authorizer: allowAll()}.ValidateCreate(ctx, cms)
	return err
}

// FuzzValidateConfigMapSync checks the defaulting and validating webhooks on arbitrary specs: they never panic,
// give the same answer for the same input, name a spec field and a rule in every error, and accept only specs
// that stay valid when defaulted again and whose syncFrequency parses within the allowed range.
func FuzzValidateConfigMapSync(f *testing.F) {
	for _, in := range []specInput{
		{namespace: "team-a", sourceName: "settings", destinations: "team-b,team-c"},
		{namespace: "team-a", sourceName: "settings", selector: "tier=web", sourceKind: "Secret", deletionPolicy: "Orphan"},
		{namespace: "team-a", sourceName: "settings", destinations: "team-a", destName: "copy", syncStrategy: "Manual", syncFrequency: "10s"},
		{namespace: "team-a", sourceName: "settings", destinations: "team-a"},
		{namespace: "team-a", sourceName: "App_Settings", destinations: "Team-B,a.b,x,x,"},
		{namespace: "team-a", sourceName: "s", selector: "tier in (web),!legacy", rollout: true, volumeMounts: "Restart", debounce: "59m"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncFrequency: "24h0m0.000000001s"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncFrequency: "-5m"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncFrequency: "1000000h"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncFrequency: "m"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncFrequency: "9.9999999999s"},
		{namespace: "team-a", sourceName: "s", destinations: "b", syncStrategy: "automatic", deletionPolicy: "Keep", sourceKind: "Pod"},
		{namespace: "team-a", sourceName: "s", destinations: "b", volumeMounts: "restart", debounce: "-1s"},
		{namespace: "team-a", sourceName: "s", selector: "a=b c"},
		{namespace: "", sourceName: "", destinations: ""},
	} {
		f.Add(in.namespace, in.sourceNamespace, in.sourceName, in.sourceKind, in.destinations, in.destName, in.selector,
			in.syncFrequency, in.syncStrategy, in.deletionPolicy, in.rollout, in.volumeMounts, in.debounce)
	}
	f.Fuzz(func(t *testing.T, namespace, sourceNamespace, sourceName, sourceKind, destinations, destName, selector,
		syncFrequency, syncStrategy, deletionPolicy string, rollout bool, volumeMounts, debounce string,
	) {
		in := specInput{namespace, sourceNamespace, sourceName, sourceKind, destinations, destName, selector,
			syncFrequency, syncStrategy, deletionPolicy, rollout, volumeMounts, debounce}
		first, second := in.build(), in.build()
		err1, err2 := admit(first), admit(second)

		if !apiequality.Semantic.DeepEqual(first, second) {
			t.Fatalf("defaulting is not deterministic:\n%s", diff.Diff(first, second))
		}
		if got, want := causes(t, err2), causes(t, err1); !slices.Equal(got, want) {
			t.Fatalf("validation is not deterministic: %q then %q", want, got)
		}
		if err1 != nil {
			checkNamesFieldAndRule(t, err1)
			return
		}
		checkAccepted(t, first)
	})
}

// causes returns the causes of a validation error, sorted: the order in which a label selector's keys are
// reported follows map iteration and carries no meaning.
func causes(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		t.Fatalf("want an API status error with details, got %T: %v", err, err)
	}
	out := make([]string, 0, len(status.Status().Details.Causes))
	for _, c := range status.Status().Details.Causes {
		out = append(out, c.Field+": "+c.Message)
	}
	slices.Sort(out)
	return out
}

// checkNamesFieldAndRule fails unless err is an Invalid error whose every cause names a field under spec and
// says what is wrong with it.
func checkNamesFieldAndRule(t *testing.T, err error) {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error (the authorizer allows everything), got %v", err)
	}
	var status apierrors.APIStatus
	_ = errors.As(err, &status)
	details := status.Status().Details
	if len(details.Causes) == 0 {
		t.Fatalf("an Invalid error without causes: %v", err)
	}
	for _, c := range details.Causes {
		if !strings.HasPrefix(c.Field, "spec.") {
			t.Errorf("cause %q is not under spec.", c.Field)
		}
		if strings.TrimSpace(c.Message) == "" {
			t.Errorf("cause for %q has no message", c.Field)
		}
	}
}

// checkAccepted checks what an accepted object promises: defaulting it again changes nothing and it still
// validates, and its durations lie in their documented ranges.
func checkAccepted(t *testing.T, cms *syncv1.ConfigMapSync) {
	t.Helper()
	again := cms.DeepCopy()
	if err := admit(again); err != nil {
		t.Fatalf("an accepted object is rejected when admitted again: %v", err)
	}
	if !apiequality.Semantic.DeepEqual(cms, again) {
		t.Fatalf("defaulting an accepted object again changed it:\n%s", diff.Diff(cms, again))
	}
	d, err := time.ParseDuration(cms.Spec.SyncFrequency)
	if err != nil || d < 10*time.Second || d > 24*time.Hour {
		t.Fatalf("accepted syncFrequency %q is not a duration within 10s..24h (%v)", cms.Spec.SyncFrequency, err)
	}
	if r := cms.Spec.Rollout; r != nil && r.Debounce != "" {
		if d, err := time.ParseDuration(r.Debounce); err != nil || d < 0 || d > time.Hour {
			t.Fatalf("accepted rollout.debounce %q is not a duration within 0s..1h (%v)", r.Debounce, err)
		}
	}
	if cms.Spec.Source.Kind == "" || cms.Spec.Source.Namespace == "" || cms.Spec.SyncStrategy == "" || cms.Spec.DeletionPolicy == "" {
		t.Fatalf("an accepted object lacks a default: %+v", cms.Spec)
	}
}
