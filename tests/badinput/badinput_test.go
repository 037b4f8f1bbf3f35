package badinput

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
	syncv1beta1 "github.com/configmapsync/configmapsync-operator/api/v1beta1"
	"github.com/configmapsync/configmapsync-operator/internal/webhook"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// badInput is one invalid or hostile input and what must happen to it.
type badInput struct {
	name string
	// sends says in words what the case sends.
	sends string
	// send sends it, in a scene of its own, and returns the answer (nil when it was accepted).
	send func(t *testing.T, s *scene) error
	// rejectedWith lists what the rejection must say: the field and the rule. {src}, {dstA} and {user} stand for
	// the scene's namespaces and user. Empty when the input must be accepted and handled safely.
	rejectedWith []string
	// then checks what happened. For rejections it defaults to nothingWritten.
	then func(t *testing.T, s *scene)
}

func TestBadInputIsRejectedOrHandledSafely(t *testing.T) {
	cases := append(append(append(append(nameCases(), durationCases()...), enumCases()...), destinationCases()...),
		append(append(authorizationCases(), ownershipCases()...), append(sourceCases(), webhookServerCases()...)...)...)
	require.GreaterOrEqual(t, len(cases), 30)

	t.Run("cases", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				t.Log("sends:", tc.sends)
				s := newScene(t)
				err := tc.send(t, s)
				if len(tc.rejectedWith) == 0 {
					require.NoError(t, err, "this input must be accepted and handled safely")
					require.NotNil(t, tc.then, "an accepted input needs a check that it was handled safely")
					tc.then(t, s)
					return
				}
				require.Error(t, err, "this input must be rejected")
				for _, want := range tc.rejectedWith {
					assert.Contains(t, err.Error(), s.expand(want))
				}
				if tc.then == nil {
					nothingWritten(t, s)
				} else {
					tc.then(t, s)
				}
			})
		}
	})

	// After all of that, the operator still syncs a valid ConfigMapSync.
	t.Run("operator still works", func(t *testing.T) {
		s := newScene(t)
		cms := s.v1Sync()
		kit.Create(t, cms)
		kit.Ready(t, cms)
		harness.Eventually(t, k8s, harness.ConfigMap(s.dstA, sourceName, nil), func(c *assert.CollectT, cp *corev1.ConfigMap) {
			assert.Equal(c, map[string]string{"k": "v"}, cp.Data)
		})
	})
}

// expand replaces the scene placeholders in want.
func (s *scene) expand(want string) string {
	return strings.NewReplacer("{src}", s.src, "{dstA}", s.dstA, "{user}", s.user).Replace(want)
}

func nameCases() []badInput {
	long := strings.Repeat("a", 254)
	return []badInput{
		{name: "uppercase object name", sends: "a ConfigMapSync named Shared-Settings",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Name = "Shared-Settings" }),
			rejectedWith: []string{`metadata.name: Invalid value: "Shared-Settings"`, "RFC 1123 subdomain"}},
		{name: "object name too long", sends: "a ConfigMapSync whose name has 254 characters",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Name = long }),
			rejectedWith: []string{"metadata.name: Invalid value", "must be no more than 253 characters"}},
		{name: "uppercase source name", sends: "spec.source.name App_Settings",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Source.Name = "App_Settings" }),
			rejectedWith: []string{"spec.source.name", "should match"}},
		{name: "source name too long", sends: "spec.source.name of 254 characters",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Source.Name = long }),
			rejectedWith: []string{"spec.source.name", "may not be more than 253"}},
		{name: "dotted source namespace", sends: "spec.source.namespace team.a (namespaces are labels: no dots)",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Source.Namespace = "team.a" }),
			rejectedWith: []string{"spec.source.namespace", "should match"}},
		{name: "dotted destination namespace", sends: "spec.destination.namespaces [team.b]",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = []string{"team.b"} }),
			rejectedWith: []string{"spec.destination.namespaces[0]", "should match"}},
		{name: "uppercase copy name", sends: "spec.destination.name Copy",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Destination.Name = "Copy" }),
			rejectedWith: []string{"spec.destination.name", "should match"}},
	}
}

func durationCases() []badInput {
	frequency := func(value string, rule ...string) badInput {
		return badInput{name: "syncFrequency " + value, sends: fmt.Sprintf("spec.syncFrequency %q", value),
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.SyncFrequency = value }),
			rejectedWith: append([]string{"spec.syncFrequency"}, rule...)}
	}
	pattern := "should match"
	between := "must be a duration between 10s and 24h"
	return []badInput{
		frequency("often", pattern),
		frequency("-5m", pattern),
		frequency("0s", `Invalid value: "0s"`, between),
		frequency("9s", between),
		frequency("1000000h", between),
		frequency("m", pattern),
		{name: "syncFrequency as a number", sends: "spec.syncFrequency: 300 (a JSON number)",
			send: sendUnstructured("v1", func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, int64(300), "spec", "syncFrequency")
			}),
			// The mutating webhook decodes the object before the schema is checked, and names the field and type.
			rejectedWith: []string{"spec.syncFrequency", "cannot unmarshal number", "of type string"}},
		{name: "rollout debounce above an hour", sends: "spec.rollout.debounce 2h",
			send: sendV1(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Rollout = &syncv1.RolloutPolicy{Debounce: "2h"}
			}),
			rejectedWith: []string{"spec.rollout.debounce", "must be a duration between 0s and 1h"}},
	}
}

func enumCases() []badInput {
	return []badInput{
		{name: "v1 syncStrategy in v1beta1 spelling", sends: "v1 spec.syncStrategy automatic",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.SyncStrategy = "automatic" }),
			rejectedWith: []string{"spec.syncStrategy", `Unsupported value: "automatic"`, `"Automatic"`, `"Manual"`}},
		{name: "v1 deletionPolicy unknown", sends: "v1 spec.deletionPolicy Keep",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.DeletionPolicy = "Keep" }),
			rejectedWith: []string{"spec.deletionPolicy", `Unsupported value: "Keep"`, `"Delete"`, `"Orphan"`}},
		{name: "v1 source kind unknown", sends: "v1 spec.source.kind Pod",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Source.Kind = "Pod" }),
			rejectedWith: []string{"spec.source.kind", `Unsupported value: "Pod"`, `"ConfigMap"`, `"Secret"`}},
		{name: "v1 rollout volumeMounts unknown", sends: "v1 spec.rollout.volumeMounts Sometimes",
			send: sendV1(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Rollout = &syncv1.RolloutPolicy{VolumeMounts: "Sometimes"}
			}),
			rejectedWith: []string{"spec.rollout.volumeMounts", `Unsupported value: "Sometimes"`, `"Ignore"`, `"Restart"`}},
		{name: "v1beta1 syncStrategy unknown", sends: "v1beta1 spec.syncStrategy sometimes",
			send:         sendV1beta1(func(_ *scene, c *syncv1beta1.ConfigMapSync) { c.Spec.SyncStrategy = "sometimes" }),
			rejectedWith: []string{"spec.syncStrategy", `Unsupported value: "sometimes"`, "supported values"}},
		{name: "v1beta1 syncStrategy in v1 spelling", sends: "v1beta1 spec.syncStrategy Automatic (v1's spelling)",
			send: sendV1beta1(func(_ *scene, c *syncv1beta1.ConfigMapSync) { c.Spec.SyncStrategy = "Automatic" }),
			// The mutating webhook sees v1 (where Automatic is valid) and its patch is converted back, which spells
			// it the v1beta1 way: the unambiguous intent is kept, in each version's spelling.
			then: func(t *testing.T, s *scene) {
				cms := s.v1Sync()
				kit.Ready(t, cms)
				assert.Equal(t, syncv1.SyncStrategyAutomatic, cms.Spec.SyncStrategy)
				beta := &syncv1beta1.ConfigMapSync{ObjectMeta: cms.ObjectMeta}
				get(t, beta)
				assert.Equal(t, syncv1beta1.SyncStrategyAutomatic, beta.Spec.SyncStrategy)
			}},
		{name: "v1beta1 syncFrequency out of range", sends: "v1beta1 spec.syncFrequency 1s (checked by the v1 webhook after conversion)",
			send:         sendV1beta1(func(_ *scene, c *syncv1beta1.ConfigMapSync) { c.Spec.SyncFrequency = "1s" }),
			rejectedWith: []string{"spec.syncFrequency", "must be a duration between 10s and 24h"}},
		{name: "source kind changed", sends: "an update of spec.source.kind from ConfigMap to Secret",
			send: func(t *testing.T, s *scene) error {
				cms := s.v1Sync()
				kit.Create(t, cms)
				// The operator adds its finalizer meanwhile: retry on write conflicts, never on the rejection.
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					get(t, cms)
					cms.Spec.Source.Kind = syncv1.SourceKindSecret
					return k8s.Update(context.Background(), cms)
				})
			},
			rejectedWith: []string{"spec.source", "source.kind is immutable"},
			then: func(t *testing.T, s *scene) {
				cms := s.v1Sync()
				kit.Ready(t, cms)
				assert.Equal(t, syncv1.SourceKindConfigMap, cms.Spec.Source.Kind)
				assert.True(t, kit.Absent(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.dstA, Name: sourceName}}))
			}},
	}
}

func destinationCases() []badInput {
	many := make([]string, syncv1.MaxDestinationNamespaces+1)
	for i := range many {
		many[i] = fmt.Sprintf("ns-%d", i)
	}
	return []badInput{
		{name: "no destination", sends: "spec.destination {}",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Destination = syncv1.Destination{} }),
			rejectedWith: []string{"spec.destination", "at least one of namespaces or namespaceSelector"}},
		{name: "more than 100 destinations", sends: "101 destination namespaces",
			send:         sendV1(func(_ *scene, c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = many }),
			rejectedWith: []string{"spec.destination.namespaces", "must have at most 100 items"}},
		{name: "duplicate destinations", sends: "spec.destination.namespaces [dstA, dstA]",
			send: sendV1(func(s *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Destination.Namespaces = []string{s.dstA, s.dstA}
			}),
			rejectedWith: []string{"spec.destination.namespaces[1]", "Duplicate value"}},
		{name: "copy onto its own source", sends: "destination = the source namespace, same name (the copy would replace the source)",
			send:         sendV1(func(s *scene, c *syncv1.ConfigMapSync) { c.Spec.Destination.Namespaces = []string{s.src} }),
			rejectedWith: []string{"spec.destination.namespaces[0]", "the source namespace cannot also be a destination"},
			then: func(t *testing.T, s *scene) {
				nothingWritten(t, s)
				src := harness.ConfigMap(s.src, sourceName, nil)
				get(t, src)
				assert.Equal(t, map[string]string{"k": "v"}, src.Data)
				assert.NotContains(t, src.Labels, syncv1.ManagedByLabel)
			}},
		{name: "v1beta1 copy onto its own source", sends: "v1beta1 destinationNamespace = sourceNamespace",
			send:         sendV1beta1(func(s *scene, c *syncv1beta1.ConfigMapSync) { c.Spec.DestinationNamespace = s.src }),
			rejectedWith: []string{"spec.destination.namespaces[0]", "the source namespace cannot also be a destination"}},
		{name: "empty selector", sends: "spec.destination.namespaceSelector {} (would select every namespace)",
			send: sendV1(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Destination = syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{}}
			}),
			rejectedWith: []string{"spec.destination.namespaceSelector", "would select every namespace"}},
		{name: "malformed selector", sends: `spec.destination.namespaceSelector matchLabels {"a": "b c"}`,
			send: sendV1(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Destination = syncv1.Destination{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}}}
			}),
			rejectedWith: []string{"spec.destination.namespaceSelector.matchLabels", "Invalid value"}},
	}
}

// matchEverything selects every namespace: each has the kubernetes.io/metadata.name label.
var matchEverything = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
	{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpExists},
}}

func authorizationCases() []badInput {
	return []badInput{
		{name: "selector without cluster-wide rights", sends: "a selector matching every namespace, from a user who may write only dstA",
			send: asLimitedUser(func(s *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Destination = syncv1.Destination{NamespaceSelector: matchEverything}
			}, true, true),
			rejectedWith: []string{"forbidden", `user "{user}" may not ask the operator`,
				"create configmaps in all namespaces (needed for destination.namespaceSelector)"}},
		{name: "selector with cluster-wide rights", sends: "a selector matching every namespace (dry run), from a user who may write configmaps everywhere",
			send: func(t *testing.T, s *scene) error {
				c, user := asUser(t, "admin-like")
				s.user = user
				mayCreateSyncs(t, user, s.src)
				env.Grant(t, user, "", "", []string{"configmaps"}, "get", "create", "update", "delete")
				cms := s.v1Sync()
				cms.Spec.Destination = syncv1.Destination{NamespaceSelector: matchEverything}
				// A dry run goes through every admission check without writing into every namespace of the cluster.
				return c.Create(context.Background(), cms, client.DryRunAll)
			},
			then: nothingWritten},
		{name: "source the user cannot read", sends: "a sync of a source the user may not get",
			send:         asLimitedUser(func(*scene, *syncv1.ConfigMapSync) {}, false, true),
			rejectedWith: []string{"forbidden", `get configmaps "settings" in namespace "{src}"`}},
		{name: "destination the user cannot write", sends: "a sync into a namespace the user may not write",
			send:         asLimitedUser(func(*scene, *syncv1.ConfigMapSync) {}, true, false),
			rejectedWith: []string{"forbidden", `create configmaps in namespace "{dstA}"`, `delete configmaps in namespace "{dstA}"`}},
		{name: "rollout without patch rights", sends: "spec.rollout.enabled from a user who may not patch workloads",
			send: asLimitedUser(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Spec.Rollout = &syncv1.RolloutPolicy{Enabled: true}
			}, true, true),
			rejectedWith: []string{"forbidden", `patch deployments.apps in namespace "{dstA}"`, "patch daemonsets.apps"}},
		{name: "requested-by set by the user", sends: "annotation sync.configmapsync.io/requested-by: someone-else",
			send: asLimitedUser(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Annotations = map[string]string{webhook.RequestedByAnnotation: "someone-else"}
			}, true, true),
			then: func(t *testing.T, s *scene) {
				cms := s.v1Sync()
				get(t, cms)
				assert.Equal(t, s.user, cms.Annotations[webhook.RequestedByAnnotation], "the webhook records the real requester")
			}},
	}
}

// asLimitedUser sends the scene's ConfigMapSync after mutate as a new user who may create ConfigMapSyncs in the
// source namespace, and, as asked, read the source and write ConfigMaps in dstA.
func asLimitedUser(mutate func(*scene, *syncv1.ConfigMapSync), readSource, writeDestination bool) func(*testing.T, *scene) error {
	return func(t *testing.T, s *scene) error {
		c, user := asUser(t, "user")
		s.user = user
		mayCreateSyncs(t, user, s.src)
		if readSource {
			env.Grant(t, user, s.src, "", []string{"configmaps"}, "get")
		}
		if writeDestination {
			env.Grant(t, user, s.dstA, "", []string{"configmaps"}, "create", "update", "delete")
		}
		cms := s.v1Sync()
		mutate(s, cms)
		return c.Create(context.Background(), cms)
	}
}

func ownershipCases() []badInput {
	return []badInput{
		{name: "conversion data set by the user on v1", sends: "a v1 ConfigMapSync carrying sync.configmapsync.io/conversion-data: {",
			send: sendV1(func(_ *scene, c *syncv1.ConfigMapSync) {
				c.Annotations = map[string]string{syncv1beta1.ConversionDataAnnotation: "{"}
			}),
			rejectedWith: []string{"metadata.annotations[sync.configmapsync.io/conversion-data]", "Forbidden", "set by the conversion webhook only"}},
		{name: "forged ownership metadata on the source", sends: "a source carrying the operator's labels and annotations with forged values",
			send: func(t *testing.T, s *scene) error {
				forged := harness.ConfigMap(s.src, "forged", map[string]string{"k": "v"})
				forged.Labels = map[string]string{syncv1.ManagedByLabel: syncv1.ManagedByValue, syncv1.OwnerUIDLabel: "forged-uid"}
				forged.Annotations = map[string]string{syncv1.OwnerAnnotation: "evil/evil", syncv1.ContentHashAnnotation: "forged"}
				kit.Create(t, forged)
				cms := s.v1Sync()
				cms.Spec.Source.Name = "forged"
				return k8s.Create(context.Background(), cms)
			},
			then: func(t *testing.T, s *scene) {
				cms := s.v1Sync()
				kit.Ready(t, cms)
				cp := harness.ConfigMap(s.dstA, "forged", nil)
				get(t, cp)
				assert.Equal(t, string(cms.UID), cp.Labels[syncv1.OwnerUIDLabel])
				assert.Equal(t, s.src+"/"+cmsName, cp.Annotations[syncv1.OwnerAnnotation])
				assert.Len(t, cp.Annotations[syncv1.ContentHashAnnotation], sha256.Size*2, "the real hash, not the forged one")
			}},
		{name: "two syncs write one destination", sends: "a second ConfigMapSync whose copy has the name of the first one's copy",
			send: func(t *testing.T, s *scene) error {
				first := s.v1Sync()
				kit.Create(t, first)
				kit.Ready(t, first)
				s.snapshot = harness.ConfigMap(s.dstA, sourceName, nil)
				get(t, s.snapshot)
				kit.Create(t, harness.ConfigMap(s.src, "other", map[string]string{"k": "other"}))
				second := s.v1Sync()
				second.Name = "second"
				second.Spec.Source.Name = "other"
				second.Spec.Destination.Name = sourceName
				return k8s.Create(context.Background(), second)
			},
			then: func(t *testing.T, s *scene) {
				second := s.v1Sync()
				second.Name = "second"
				conflicted(t, second, s.dstA)
				assertUnchanged(t, s.snapshot)
			}},
		{name: "user object at the destination", sends: "a sync into a namespace holding the user's own ConfigMap of the copy's name",
			send: func(t *testing.T, s *scene) error {
				mine := harness.ConfigMap(s.dstA, sourceName, map[string]string{"mine": "yes"})
				mine.Labels = map[string]string{"owner": "me"}
				kit.Create(t, mine)
				s.snapshot = mine
				return k8s.Create(context.Background(), s.v1Sync())
			},
			then: func(t *testing.T, s *scene) {
				conflicted(t, s.v1Sync(), s.dstA)
				assertUnchanged(t, s.snapshot)
			}},
	}
}

func sourceCases() []badInput {
	return []badInput{
		{name: "source of 1 MiB", sends: "a source ConfigMap holding exactly the 1 MiB the API server allows",
			send: func(t *testing.T, s *scene) error {
				kit.Create(t, harness.ConfigMap(s.src, "big", map[string]string{"big": strings.Repeat("x", 1<<20-len("big"))}))
				cms := s.v1Sync()
				cms.Spec.Source.Name = "big"
				return k8s.Create(context.Background(), cms)
			},
			then: func(t *testing.T, s *scene) {
				kit.Ready(t, s.v1Sync())
				src, cp := harness.ConfigMap(s.src, "big", nil), harness.ConfigMap(s.dstA, "big", nil)
				get(t, src)
				get(t, cp)
				// Compare digests: a failure message must not print a megabyte.
				assert.Equal(t, sha256.Sum256([]byte(src.Data["big"])), sha256.Sum256([]byte(cp.Data["big"])), "the copy is whole")
				assert.Len(t, cp.Data, 1)
			}},
		{name: "service account token source", sends: "a Secret of type kubernetes.io/service-account-token as the source",
			send: sendSecretSource(corev1.SecretTypeServiceAccountToken,
				map[string]string{corev1.ServiceAccountNameKey: "builder"},
				map[string][]byte{corev1.ServiceAccountTokenKey: []byte("not-a-real-token")}),
			then: stalledWithoutCopy("is of type kubernetes.io/service-account-token, which is never copied")},
		{name: "TLS source", sends: "a Secret of type kubernetes.io/tls as the source",
			send: sendSecretSource(corev1.SecretTypeTLS, nil,
				map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")}),
			then: secretCopiedWithType(corev1.SecretTypeTLS)},
	}
}

func webhookServerCases() []badInput {
	const (
		toV1      = "sync.configmapsync.io/v1"
		toV1beta1 = "sync.configmapsync.io/v1beta1"
	)
	convert := func(name, sends, body string, rejectedWith ...string) badInput {
		return badInput{name: "convert: " + name, sends: sends, send: sendConversion(body),
			rejectedWith: rejectedWith, then: webhookServerStillServes}
	}
	admit := func(name, sends, path, body string, rejectedWith ...string) badInput {
		return badInput{name: name, sends: sends, send: sendAdmission(path, body),
			rejectedWith: rejectedWith, then: webhookServerStillServes}
	}
	return []badInput{
		convert("garbage", "POST /convert with a body that is not JSON", `{"request": nope`, "HTTP 400"),
		convert("no request", "POST /convert with a ConversionReview without a request", `{"apiVersion":"apiextensions.k8s.io/v1","kind":"ConversionReview"}`, "HTTP 400"),
		convert("unknown desired version", "a ConversionReview asking for sync.configmapsync.io/v2",
			conversionReview("sync.configmapsync.io/v2", validV1beta1Object), "conversion Failure"),
		convert("unknown object version", "a ConversionReview holding a sync.configmapsync.io/v9 object",
			conversionReview(toV1, strings.Replace(validV1beta1Object, "v1beta1", "v9", 1)), "conversion Failure"),
		convert("another kind", "a ConversionReview holding a ConfigMap",
			conversionReview(toV1beta1, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`), "conversion Failure"),
		convert("object without kind", "a ConversionReview holding {}", conversionReview(toV1, `{}`), "conversion Failure"),
		convert("corrupt conversion data", "a v1beta1 object whose conversion-data annotation is not JSON",
			conversionReview(toV1, strings.Replace(validV1beta1Object, `"namespace":"team-a"}`,
				`"namespace":"team-a","annotations":{"sync.configmapsync.io/conversion-data":"{"}}`, 1)),
			"conversion Failure", syncv1beta1.ConversionDataAnnotation),
		admit("validate: garbage", "POST /validate-… with a body that is not JSON", validatePath, `{"request": nope`, "400"),
		admit("mutate: garbage", "POST /mutate-… with a body that is not JSON", mutatePath, `[1,2,3]`, "400"),
		admit("validate: another kind", "an AdmissionReview whose object is a ConfigMap", validatePath,
			admissionReview(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"team-a"},"data":{"k":"v"}}`), "denied"),
		admit("validate: invalid spec", "an AdmissionReview, straight to the webhook, with syncFrequency 1s", validatePath,
			admissionReview(`{"apiVersion":"sync.configmapsync.io/v1","kind":"ConfigMapSync","metadata":{"name":"x","namespace":"team-a"},`+
				`"spec":{"source":{"kind":"ConfigMap","namespace":"team-a","name":"s"},"destination":{"namespaces":["team-b"]},`+
				`"syncFrequency":"1s","syncStrategy":"Automatic","deletionPolicy":"Delete"}}`),
			"denied 422", "spec.syncFrequency", "must be a duration between 10s and 24h"),
		admit("mutate: no object", "an AdmissionReview without an object", mutatePath, admissionReview(`null`), "denied"),
	}
}

// sendUnstructured creates the scene's ConfigMapSync as raw JSON of version, after mutate: for input the typed
// client cannot express.
func sendUnstructured(version string, mutate func(*unstructured.Unstructured)) func(*testing.T, *scene) error {
	return func(t *testing.T, s *scene) error {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": syncv1.GroupVersion.Group + "/" + version, "kind": "ConfigMapSync",
			"metadata": map[string]any{"namespace": s.src, "name": cmsName},
			"spec": map[string]any{
				"source":      map[string]any{"name": sourceName},
				"destination": map[string]any{"namespaces": []any{s.dstA}},
			},
		}}
		mutate(u)
		return k8s.Create(context.Background(), u)
	}
}

// sendV1beta1 creates the scene's ConfigMapSync through v1beta1 after mutate.
func sendV1beta1(mutate func(*scene, *syncv1beta1.ConfigMapSync)) func(*testing.T, *scene) error {
	return func(_ *testing.T, s *scene) error {
		cms := &syncv1beta1.ConfigMapSync{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.src, Name: cmsName},
			Spec: syncv1beta1.ConfigMapSyncSpec{
				SourceNamespace: s.src, DestinationNamespace: s.dstA, ConfigMapName: sourceName,
			},
		}
		mutate(s, cms)
		return k8s.Create(context.Background(), cms)
	}
}

// sendSecretSource creates a source Secret of the given type and a ConfigMapSync copying it into dstA.
func sendSecretSource(typ corev1.SecretType, annotations map[string]string, data map[string][]byte) func(*testing.T, *scene) error {
	return func(t *testing.T, s *scene) error {
		kit.Create(t, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.src, Name: "special", Annotations: annotations},
			Type:       typ, Data: data,
		})
		cms := s.v1Sync()
		cms.Spec.Source = syncv1.SourceReference{Kind: syncv1.SourceKindSecret, Name: "special"}
		return k8s.Create(context.Background(), cms)
	}
}

// secretCopiedWithType checks that the special Secret was copied whole, with its type and the annotations that type
// requires.
func secretCopiedWithType(typ corev1.SecretType) func(*testing.T, *scene) {
	return func(t *testing.T, s *scene) {
		kit.Ready(t, s.v1Sync())
		src := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.src, Name: "special"}}
		cp := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.dstA, Name: "special"}}
		get(t, src)
		get(t, cp)
		assert.Equal(t, typ, cp.Type)
		assert.True(t, apiequality.Semantic.DeepEqual(src.Data, cp.Data), "the copy holds the source's data") // never print values
		for k, v := range src.Annotations {
			assert.Equal(t, v, cp.Annotations[k], "annotation %s", k)
		}
	}
}

// stalledWithoutCopy checks the ConfigMapSync is Stalled with a message containing want, and no copy was written.
func stalledWithoutCopy(want string) func(*testing.T, *scene) {
	return func(t *testing.T, s *scene) {
		cms := s.v1Sync()
		require.Eventually(t, func() bool {
			get(t, cms)
			c := meta.FindStatusCondition(cms.Status.Conditions, syncv1.StalledCondition)
			return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, want)
		}, time.Minute, 100*time.Millisecond, "Stalled with %q; conditions: %+v", want, cms.Status.Conditions)
		assert.True(t, kit.Absent(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.dstA, Name: "special"}}),
			"no copy is written")
	}
}

// assertUnchanged checks that obj is byte-for-byte as it was: same resourceVersion (no write at all), same content.
func assertUnchanged(t *testing.T, before *corev1.ConfigMap) {
	t.Helper()
	now := harness.ConfigMap(before.Namespace, before.Name, nil)
	get(t, now)
	assert.Equal(t, before.ResourceVersion, now.ResourceVersion, "the object must not be written")
	assert.Equal(t, before.Data, now.Data)
	assert.Equal(t, before.Labels, now.Labels)
	assert.Equal(t, before.Annotations, now.Annotations)
}
