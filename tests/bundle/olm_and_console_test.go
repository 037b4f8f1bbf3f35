package bundle

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/configmapsync/configmapsync-operator/internal/monitoring"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

// ---------------------------------------------------------------------------------------------------------------
// 2. What OLM and the console rely on beyond the scorecard (which the end-to-end suite runs for real)

// Every top-level spec and status key of each example exists in the openAPIV3Schema of the CRD version the example
// is written in. The scorecard's olm-crds-have-validation (run for real by the end-to-end suite) checks the same but
// skips examples it cannot match to a CRD; here that fails.
func TestEveryExampleMatchesItsCRDSchema(t *testing.T) {
	b := loadBundle(t)
	for _, ex := range almExamples(t, b.CSV) {
		gvk := ex.GroupVersionKind()
		crd, version := findCRDVersion(b, gvk)
		if !assert.NotNil(t, version, "%s: no CRD in the bundle serves %s", exampleID(ex), gvk) {
			continue
		}
		if !assert.True(t, version.Schema != nil && version.Schema.OpenAPIV3Schema != nil,
			"%s version %s has no openAPIV3Schema", crd.Name, version.Name) {
			continue
		}
		props := version.Schema.OpenAPIV3Schema.Properties
		for _, part := range []string{"spec", "status"} {
			values := topLevelMap(t, ex, part)
			if len(values) == 0 {
				continue
			}
			schemaProps := props[part].Properties
			for _, key := range sortedKeys(values) {
				_, ok := schemaProps[key]
				assert.True(t, ok, "%s: %s.%s is not in the schema of %s %s", exampleID(ex), part, key, crd.Name, version.Name)
			}
		}
	}
}

// Every served version of every CRD file is owned by the CSV and has an example; every owned entry names a real CRD
// version.
func TestBundleOwnedCRDsMatchTheCRDFiles(t *testing.T) {
	b := loadBundle(t)
	require.NotEmpty(t, b.V1CRDs, "the bundle has no apiextensions.k8s.io/v1 CRDs")
	assert.Empty(t, b.V1beta1CRDs, "apiextensions.k8s.io/v1beta1 CRDs are gone since Kubernetes 1.22")

	examples := almExamples(t, b.CSV)
	hasExample := map[schema.GroupVersionKind]bool{}
	for _, ex := range examples {
		hasExample[ex.GroupVersionKind()] = true
	}

	type key struct{ name, version string }
	seen := map[key]bool{}
	for _, o := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		k := key{o.Name, o.Version}
		assert.False(t, seen[k], "owned CRD %s %s is listed twice", o.Name, o.Version)
		seen[k] = true
		assert.NotEmpty(t, o.DisplayName, "owned CRD %s %s has no displayName", o.Name, o.Version)
		assert.NotEmpty(t, o.Description, "owned CRD %s %s has no description", o.Name, o.Version)

		var crd *apiextensionsv1.CustomResourceDefinition
		for _, c := range b.V1CRDs {
			if c.Name == o.Name {
				crd = c
			}
		}
		if !assert.NotNil(t, crd, "owned CRD %s is not in the bundle", o.Name) {
			continue
		}
		assert.Equal(t, crd.Spec.Names.Kind, o.Kind, "owned CRD %s: kind", o.Name)
		assert.True(t, slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool {
			return v.Name == o.Version && v.Served
		}), "owned CRD %s lists version %s, which the CRD does not serve", o.Name, o.Version)
	}

	for _, crd := range b.V1CRDs {
		assert.Equal(t, group, crd.Spec.Group, "CRD %s", crd.Name)
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			assert.True(t, seen[key{crd.Name, v.Name}], "CRD %s version %s is not in spec.customresourcedefinitions.owned", crd.Name, v.Name)
			// The console offers each example as a tile: one per current version, none inviting to a deprecated one.
			if v.Deprecated {
				assert.False(t, hasExample[gvk], "CRD %s version %s is deprecated but has an alm-example", crd.Name, v.Name)
			} else {
				assert.True(t, hasExample[gvk], "CRD %s version %s has no alm-example", crd.Name, v.Name)
			}
		}
	}
}

// Each example is accepted by its CRD version's schema the way the API server would accept it: no field that would be
// pruned (at any depth), and the OpenAPI and CEL validations pass after defaulting. The CRD validator of
// operator-framework/api skips everything under openAPIV3Schema, and the scorecard only looks at top-level keys.
func TestBundleExamplesAreValidAgainstTheirCRDSchema(t *testing.T) {
	b := loadBundle(t)
	for _, ex := range almExamples(t, b.CSV) {
		t.Run(ex.GetKind()+"/"+ex.GroupVersionKind().Version, func(t *testing.T) {
			// Every object created from the console's form carries the example's labels.
			assert.NotContains(t, ex.GetLabels(), "app.kubernetes.io/managed-by", "%s: kustomize's label", exampleID(ex))
			crd, version := findCRDVersion(b, ex.GroupVersionKind())
			require.NotNil(t, version, "no CRD serves %s", ex.GroupVersionKind())
			require.NotNil(t, version.Schema)
			require.NotNil(t, version.Schema.OpenAPIV3Schema)

			internal := &apiextensions.JSONSchemaProps{}
			require.NoError(t, apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(
				version.Schema.OpenAPIV3Schema, internal, nil))
			structural, err := structuralschema.NewStructural(internal)
			require.NoError(t, err, "%s %s: schema is not structural", crd.Name, version.Name)

			obj := ex.DeepCopy().Object
			pruned := pruning.PruneWithOptions(obj, structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			assert.Empty(t, pruned, "%s: fields the API server would drop silently", exampleID(ex))

			defaulting.Default(obj, structural)

			schemaValidator, _, err := apiservervalidation.NewSchemaValidator(internal)
			require.NoError(t, err)
			errs := apiservervalidation.ValidateCustomResource(nil, obj, schemaValidator)
			assert.Empty(t, errs, "%s: OpenAPI validation: %v", exampleID(ex), errs.ToAggregate())

			celValidator := cel.NewValidator(structural, true, celconfig.PerCallLimit)
			if celValidator != nil {
				celErrs, _ := celValidator.Validate(context.Background(), nil, structural, obj, nil, celconfig.RuntimeCELCostBudget)
				assert.Empty(t, celErrs, "%s: CEL validation: %v", exampleID(ex), celErrs.ToAggregate())
			}
		})
	}
}

// A conversion webhook makes OLM refuse any install mode but AllNamespaces.
func TestBundleInstallModesAreAllNamespacesOnly(t *testing.T) {
	b := loadBundle(t)
	var supported []operatorsv1alpha1.InstallModeType
	for _, m := range b.CSV.Spec.InstallModes {
		if m.Supported {
			supported = append(supported, m.Type)
		}
	}
	assert.Equal(t, []operatorsv1alpha1.InstallModeType{operatorsv1alpha1.InstallModeTypeAllNamespaces}, supported)
}

func TestBundleWebhookDefinitions(t *testing.T) {
	b := loadBundle(t)
	spec := managerDeployment(t, b.CSV)
	container := managerContainer(t, spec)

	byType := map[operatorsv1alpha1.WebhookAdmissionType][]operatorsv1alpha1.WebhookDescription{}
	for _, w := range b.CSV.Spec.WebhookDefinitions {
		byType[w.Type] = append(byType[w.Type], w)

		// Common to every webhook: served by the manager's webhook server behind OLM's Service.
		assert.Equal(t, deploymentName, w.DeploymentName, "webhook %s: deploymentName", w.GenerateName)
		assert.EqualValues(t, 443, w.ContainerPort, "webhook %s: containerPort", w.GenerateName)
		if assert.NotNil(t, w.TargetPort, "webhook %s: targetPort", w.GenerateName) {
			assert.Equal(t, intstr.FromInt32(9443), *w.TargetPort, "webhook %s: targetPort", w.GenerateName)
			assert.True(t, slices.ContainsFunc(container.Ports, func(p corev1.ContainerPort) bool {
				return p.ContainerPort == w.TargetPort.IntVal
			}), "webhook %s: targetPort %s is not a port of the manager container", w.GenerateName, w.TargetPort.String())
		}
		assert.Contains(t, w.AdmissionReviewVersions, "v1", "webhook %s: admissionReviewVersions", w.GenerateName)
		if assert.NotNil(t, w.SideEffects, "webhook %s: sideEffects", w.GenerateName) {
			assert.Equal(t, admissionregistrationv1.SideEffectClassNone, *w.SideEffects, "webhook %s: sideEffects", w.GenerateName)
		}
	}

	t.Run("conversion", func(t *testing.T) {
		conv := byType[operatorsv1alpha1.ConversionWebhook]
		require.Len(t, conv, 1, "exactly one ConversionWebhook")
		w := conv[0]
		assert.Equal(t, []string{"configmapsyncs." + group}, w.ConversionCRDs)
		if assert.NotNil(t, w.WebhookPath) {
			assert.Equal(t, conversionPath, *w.WebhookPath)
		}
		for _, name := range w.ConversionCRDs {
			assert.True(t, slices.ContainsFunc(b.CSV.Spec.CustomResourceDefinitions.Owned, func(o operatorsv1alpha1.CRDDescription) bool {
				return o.Name == name
			}), "conversion CRD %s is not owned by the CSV", name)
		}
	})

	admission := []struct {
		typ            operatorsv1alpha1.WebhookAdmissionType
		path, resource string
	}{
		{operatorsv1alpha1.MutatingAdmissionWebhook, mutatingPath, "configmapsyncs"},
		{operatorsv1alpha1.MutatingAdmissionWebhook, mutatingManagedSecretPath, "managedsecrets"},
		{operatorsv1alpha1.ValidatingAdmissionWebhook, validatingPath, "configmapsyncs"},
		{operatorsv1alpha1.ValidatingAdmissionWebhook, validatingManagedSecretPath, "managedsecrets"},
	}
	assert.Len(t, byType[operatorsv1alpha1.MutatingAdmissionWebhook], 2, "exactly two MutatingAdmissionWebhooks")
	assert.Len(t, byType[operatorsv1alpha1.ValidatingAdmissionWebhook], 2, "exactly two ValidatingAdmissionWebhooks")
	for _, tc := range admission {
		t.Run(string(tc.typ)+"/"+tc.resource, func(t *testing.T) {
			i := slices.IndexFunc(byType[tc.typ], func(w operatorsv1alpha1.WebhookDescription) bool {
				return w.WebhookPath != nil && *w.WebhookPath == tc.path
			})
			require.GreaterOrEqual(t, i, 0, "no %s at %s", tc.typ, tc.path)
			w := byType[tc.typ][i]
			if assert.NotNil(t, w.FailurePolicy) {
				assert.Equal(t, admissionregistrationv1.Fail, *w.FailurePolicy, "a webhook that guards authorization must fail closed")
			}
			covered := slices.ContainsFunc(w.Rules, func(r admissionregistrationv1.RuleWithOperations) bool {
				return slices.Contains(r.APIGroups, group) && slices.Contains(r.APIVersions, "v1") &&
					slices.Contains(r.Resources, tc.resource) &&
					slices.Contains(r.Operations, admissionregistrationv1.Create) &&
					slices.Contains(r.Operations, admissionregistrationv1.Update)
			})
			assert.True(t, covered, "%s does not cover CREATE and UPDATE of %s %s/v1: %+v", tc.typ, tc.resource, group, w.Rules)
			for _, r := range w.Rules {
				assert.NotContains(t, r.APIGroups, "*", "OLM refuses webhooks on all groups")
				assert.NotContains(t, r.APIGroups, "operators.coreos.com", "OLM refuses webhooks on its own group")
			}
		})
	}
}

// releasedVersions are the releases kept in tests/testdata/bundle-<version>, as shipped, oldest first.
var releasedVersions = []string{"0.1.0", "0.2.0"}

// TestBundleDeploymentSelectorIsThePreviousReleases checks every upgrade can update the Deployment in place: OLM
// keeps the Deployment's name across releases, and the API server refuses any change to its selector.
func TestBundleDeploymentSelectorIsThePreviousReleases(t *testing.T) {
	current := loadBundle(t).CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	for _, version := range releasedVersions {
		previous, err := manifests.GetBundleFromDir(filepath.Join(harness.RepoRoot, "tests", "testdata", "bundle-"+version))
		require.NoError(t, err)
		before := map[string]*metav1.LabelSelector{}
		for _, d := range previous.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
			before[d.Name] = d.Spec.Selector
		}
		for _, d := range current {
			if old, ok := before[d.Name]; ok {
				assert.Equal(t, old, d.Spec.Selector, "Deployment %s: the selector must stay as in %s", d.Name, version)
			}
		}
	}
}

func TestBundleDeploymentIsHighlyAvailableAndRestricted(t *testing.T) {
	b := loadBundle(t)
	spec := managerDeployment(t, b.CSV)
	pod := spec.Template.Spec
	c := managerContainer(t, spec)

	if assert.NotNil(t, spec.Replicas, "replicas") {
		assert.EqualValues(t, 2, *spec.Replicas, "replicas")
	}
	assert.True(t, slices.Contains(c.Args, "--leader-elect") || slices.Contains(c.Args, "--leader-elect=true"),
		"two replicas need --leader-elect, args are %v", c.Args)

	// runAsNonRoot and seccomp may be set on the pod or the container.
	runAsNonRoot := (pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot) ||
		(c.SecurityContext != nil && c.SecurityContext.RunAsNonRoot != nil && *c.SecurityContext.RunAsNonRoot)
	assert.True(t, runAsNonRoot, "runAsNonRoot")
	seccomp := func(p *corev1.SeccompProfile) bool {
		return p != nil && p.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	assert.True(t, (pod.SecurityContext != nil && seccomp(pod.SecurityContext.SeccompProfile)) ||
		(c.SecurityContext != nil && seccomp(c.SecurityContext.SeccompProfile)), "seccompProfile RuntimeDefault")

	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if !assert.NotNil(t, sc, "container %s has no securityContext", c.Name) {
			continue
		}
		assert.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "container %s: readOnlyRootFilesystem", c.Name)
		assert.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "container %s: allowPrivilegeEscalation false", c.Name)
		assert.True(t, sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL"), "container %s: capabilities drop ALL", c.Name)
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, ok := c.Resources.Requests[res]
			assert.True(t, ok && !req.IsZero(), "container %s: no %s request", c.Name, res)
			lim, ok := c.Resources.Limits[res]
			assert.True(t, ok && !lim.IsZero(), "container %s: no %s limit", c.Name, res)
			if ok && !req.IsZero() {
				assert.LessOrEqual(t, req.Cmp(lim), 0, "container %s: %s request above its limit", c.Name, res)
			}
		}
	}

	healthPort := bindPort(c.Args, "--health-probe-bind-address")
	for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if !assert.NotNil(t, probe, "manager has no %s probe", name) {
			continue
		}
		if assert.NotNil(t, probe.HTTPGet, "%s probe is not an HTTP probe", name) {
			assert.Equal(t, healthPort, probe.HTTPGet.Port.IntValue(),
				"%s probe port must be the --health-probe-bind-address port", name)
		}
	}
	if c.LivenessProbe != nil && c.ReadinessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet != nil {
		assert.NotEqual(t, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path,
			"liveness and readiness should be different checks (/healthz, /readyz)")
	}
}

// Full Lifecycle / Deep Insights: a PodDisruptionBudget, a metrics Service, and the ServiceMonitor and alerts the
// operator installs where the Prometheus Operator is (internal/monitoring), which the bundle must not carry.
func TestBundleHasAvailabilityAndMonitoringObjects(t *testing.T) {
	b := loadBundle(t)
	installed, err := monitoring.Objects()
	require.NoError(t, err)
	monitoringOfKind := func(kind string) []*unstructured.Unstructured {
		var out []*unstructured.Unstructured
		for _, o := range installed {
			if o.GetKind() == kind {
				out = append(out, o)
			}
		}
		return out
	}

	t.Run("no Prometheus Operator kinds in the bundle", func(t *testing.T) {
		// OLM refuses a bundle whose kinds the cluster does not serve: with them, no install without the
		// Prometheus Operator.
		for _, o := range b.Objects {
			assert.NotEqual(t, "monitoring.coreos.com", o.GroupVersionKind().Group, "%s %s", o.GetKind(), o.GetName())
		}
	})
	spec := managerDeployment(t, b.CSV)
	podLabels := labels.Set(spec.Template.Labels)
	c := managerContainer(t, spec)

	t.Run("PodDisruptionBudget", func(t *testing.T) {
		pdbs := objectsOfKind(b, "PodDisruptionBudget")
		require.Len(t, pdbs, 1)
		pdb := fromUnstructured[policyv1.PodDisruptionBudget](t, pdbs[0])
		require.NotNil(t, pdb.Spec.Selector)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		require.NoError(t, err)
		assert.False(t, sel.Empty(), "PDB selects every pod of the namespace")
		assert.True(t, sel.Matches(podLabels), "PDB selector %s does not match the operator pods %v", sel, podLabels)
		if pdb.Spec.MinAvailable != nil && spec.Replicas != nil {
			assert.Equal(t, intstr.Int, pdb.Spec.MinAvailable.Type, "minAvailable")
			assert.Less(t, pdb.Spec.MinAvailable.IntVal, *spec.Replicas, "minAvailable must leave room for a drain")
		} else {
			assert.NotNil(t, pdb.Spec.MaxUnavailable, "PDB has neither minAvailable nor maxUnavailable")
		}
	})

	metricsPort := bindPort(c.Args, "--metrics-bind-address")
	require.NotZero(t, metricsPort, "manager args have no --metrics-bind-address=:<port>: %v", c.Args)

	var metricsSvc *corev1.Service
	t.Run("metrics Service", func(t *testing.T) {
		for _, u := range objectsOfKind(b, "Service") {
			svc := fromUnstructured[corev1.Service](t, u)
			for _, p := range svc.Spec.Ports {
				if p.TargetPort.IntValue() == metricsPort || (p.TargetPort.IntValue() == 0 && int(p.Port) == metricsPort) {
					metricsSvc = svc
				}
			}
		}
		require.NotNil(t, metricsSvc, "no Service targets the metrics port %d", metricsPort)
		assert.Equal(t, monitoring.MetricsService, metricsSvc.Name, "the Service the installed monitoring objects are owned by")
		assert.True(t, labels.SelectorFromSet(metricsSvc.Spec.Selector).Matches(podLabels) && len(metricsSvc.Spec.Selector) > 0,
			"metrics Service selector %v does not match the operator pods %v", metricsSvc.Spec.Selector, podLabels)
	})

	t.Run("ServiceMonitor", func(t *testing.T) {
		require.NotNil(t, metricsSvc, "needs the metrics Service")
		monitors := monitoringOfKind("ServiceMonitor")
		require.Len(t, monitors, 1)
		m := monitors[0]
		matchLabels, _, err := unstructured.NestedStringMap(m.Object, "spec", "selector", "matchLabels")
		require.NoError(t, err)
		require.NotEmpty(t, matchLabels, "ServiceMonitor has no selector.matchLabels")
		assert.True(t, labels.SelectorFromSet(matchLabels).Matches(labels.Set(metricsSvc.Labels)),
			"ServiceMonitor selector %v does not match the metrics Service labels %v", matchLabels, metricsSvc.Labels)
		endpoints, _, err := unstructured.NestedSlice(m.Object, "spec", "endpoints")
		require.NoError(t, err)
		require.NotEmpty(t, endpoints, "ServiceMonitor has no endpoints")
		for _, e := range endpoints {
			port, _, _ := unstructured.NestedString(e.(map[string]any), "port")
			assert.True(t, slices.ContainsFunc(metricsSvc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }),
				"ServiceMonitor endpoint port %q is not a port name of the metrics Service", port)
		}
	})

	t.Run("PrometheusRule", func(t *testing.T) {
		rules := monitoringOfKind("PrometheusRule")
		require.Len(t, rules, 1)
		groups, _, err := unstructured.NestedSlice(rules[0].Object, "spec", "groups")
		require.NoError(t, err)
		descriptions := map[string]string{}
		for _, g := range groups {
			rs, _, err := unstructured.NestedSlice(g.(map[string]any), "rules")
			require.NoError(t, err)
			for _, r := range rs {
				rule := r.(map[string]any)
				alert, _, _ := unstructured.NestedString(rule, "alert")
				if alert == "" {
					continue // a recording rule
				}
				desc, _, _ := unstructured.NestedString(rule, "annotations", "description")
				descriptions[alert] = desc
				expr, _, _ := unstructured.NestedFieldNoCopy(rule, "expr")
				assert.NotEmpty(t, expr, "alert %s has no expr", alert)
				severity, _, _ := unstructured.NestedString(rule, "labels", "severity")
				assert.NotEmpty(t, severity, "alert %s has no severity label", alert)
			}
		}
		for _, alert := range []string{"ConfigMapSyncFailing", "ConfigMapSyncCleanupStuck", "ConfigMapSyncOperatorNoLeader"} {
			desc, ok := descriptions[alert]
			if assert.True(t, ok, "alert %s is missing", alert) {
				assert.NotEmpty(t, strings.TrimSpace(desc), "alert %s has no description annotation", alert)
			}
		}
	})
}
