package main

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const (
	// kustomizeNamespace is config/default's namespace; in the chart it is the release's.
	kustomizeNamespace = "configmapsync-operator-system"
	// namePrefix is config/default's name prefix. The operator finds its own objects by these names, so the chart
	// keeps them (internal/monitoring names the metrics Service).
	namePrefix = "configmapsync-operator-"
	// injectCAFrom is cert-manager's CA injection annotation, which config/install adds.
	injectCAFrom = "cert-manager.io/inject-ca-from"

	certManagerEnabled = ".Values.webhook.certManager.enabled"
	monitoringEnabled  = ".Values.metrics.serviceMonitor.enabled"
)

// templateFile is one object of the chart, as a template file.
type templateFile struct {
	name string
	// condition, when set, is the template expression under which the object is rendered at all.
	condition string
	obj       *unstructured.Unstructured
	tk        tokens
}

// chartFlags are the operator's command-line flags the chart sets from values; main checks they exist.
type chartFlags struct{ logLevel, excludedNamespaces, installMonitoring string }

// templateObject applies the templating rules to obj. It returns nil for objects the chart leaves out.
func templateObject(obj *unstructured.Unstructured, monitoring bool, flags chartFlags) (*templateFile, error) {
	if obj.GetKind() == "Namespace" {
		// `helm install --create-namespace` (or the user) makes the release's namespace; a chart that also
		// created it would fail to install into an existing one.
		return nil, nil
	}
	f := &templateFile{name: fileName(obj), obj: obj}
	f.metadata()
	var err error
	switch obj.GetKind() {
	case "CustomResourceDefinition":
		err = f.crd()
	case "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration":
		err = f.webhookConfiguration()
	case "Deployment":
		err = f.deployment(flags)
	case "PodDisruptionBudget":
		// With one replica, minAvailable: 1 would block every node drain.
		f.condition = "gt (int .Values.replicaCount) 1"
	case "Certificate":
		f.condition = certManagerEnabled
		err = f.certificate()
	case "Issuer":
		// Only when the values name no issuer of their own.
		f.condition = "and " + certManagerEnabled + " (not .Values.webhook.certManager.issuerRef)"
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	if monitoring {
		f.condition = monitoringEnabled
		if obj.GetKind() == "ServiceMonitor" {
			f.extraLabels(".Values.metrics.serviceMonitor.labels")
		}
	}
	return f, nil
}

// fileName is the template's file name: its kind and its name without the prefix.
func fileName(obj *unstructured.Unstructured) string {
	kind := strings.ToLower(obj.GetKind())
	name := strings.TrimPrefix(obj.GetName(), namePrefix)
	if kind == "customresourcedefinition" {
		plural, _, _ := strings.Cut(name, ".")
		kind, name = "crd", plural
	}
	return kind + "-" + name + ".yaml"
}

// metadata puts the object in the release's namespace, adds the chart's labels, and makes cert-manager's CA
// injection depend on the values.
func (f *templateFile) metadata() {
	obj := f.obj
	if obj.GetNamespace() != "" {
		obj.SetNamespace(kustomizeNamespace) // Replaced by the release's in the text (render).
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	delete(labels, "app.kubernetes.io/managed-by") // Kustomize's; the chart's labels say Helm.
	labels["app.kubernetes.io/name"] = "configmapsync-operator"
	labels[f.tk.add(func(indent, _ string) string {
		return fmt.Sprintf(`%s{{- include "configmapsync-operator.labels" . | nindent %d }}`, indent, len(indent))
	})] = ""
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	if from, ok := annotations[injectCAFrom]; ok {
		delete(annotations, injectCAFrom)
		annotations[f.tk.add(insert("{{- if "+certManagerEnabled+" }}", injectCAFrom+": "+from, "{{- end }}"))] = ""
		obj.SetAnnotations(annotations)
	}
}

// extraLabels adds the labels of a values map to the object's.
func (f *templateFile) extraLabels(valuesPath string) {
	labels := f.obj.GetLabels()
	labels[f.tk.add(func(indent, _ string) string {
		return fmt.Sprintf("%s{{- with %s }}\n%s{{- toYaml . | nindent %d }}\n%s{{- end }}", indent, valuesPath, indent, len(indent), indent)
	})] = ""
	f.obj.SetLabels(labels)
}

// caBundle returns the key token of a webhook client configuration's caBundle: the chart's own CA, unless
// cert-manager injects its own.
func (f *templateFile) caBundle() string {
	return f.tk.add(insert("{{- if not "+certManagerEnabled+" }}",
		`caBundle: {{ include "configmapsync-operator.caBundle" . }}`, "{{- end }}"))
}

// crd keeps the CRDs on uninstall unless crds.keep is false, and gives the conversion webhook the chart's CA.
func (f *templateFile) crd() error {
	annotations := f.obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[f.tk.add(insert("{{- if .Values.crds.keep }}", "helm.sh/resource-policy: keep", "{{- end }}"))] = ""
	f.obj.SetAnnotations(annotations)
	clientConfig, ok, err := unstructured.NestedMap(f.obj.Object, "spec", "conversion", "webhook", "clientConfig")
	if err != nil || !ok {
		return err // A CRD without conversion webhook.
	}
	clientConfig[f.caBundle()] = ""
	return unstructured.SetNestedMap(f.obj.Object, clientConfig, "spec", "conversion", "webhook", "clientConfig")
}

// webhookConfiguration gives every webhook the chart's CA.
func (f *templateFile) webhookConfiguration() error {
	webhooks, _, err := unstructured.NestedSlice(f.obj.Object, "webhooks")
	if err != nil {
		return err
	}
	for _, w := range webhooks {
		clientConfig, ok := w.(map[string]any)["clientConfig"].(map[string]any)
		if !ok {
			return fmt.Errorf("webhook without clientConfig")
		}
		clientConfig[f.caBundle()] = ""
	}
	return unstructured.SetNestedSlice(f.obj.Object, webhooks, "webhooks")
}

// deployment templates the replicas, the image, the manager's flags and the pod's scheduling.
func (f *templateFile) deployment(flags chartFlags) error {
	obj := f.obj.Object
	if err := unstructured.SetNestedField(obj, f.tk.add(inline("{{ .Values.replicaCount }}")), "spec", "replicas"); err != nil {
		return err
	}
	pod, _, err := unstructured.NestedMap(obj, "spec", "template", "spec")
	if err != nil {
		return err
	}
	containers, _ := pod["containers"].([]any)
	if len(containers) != 1 {
		return fmt.Errorf("want one container, got %d", len(containers))
	}
	manager := containers[0].(map[string]any)
	manager["image"] = f.tk.add(inline(`{{ include "configmapsync-operator.image" . }}`))
	manager["resources"] = f.tk.add(optionalBlock(".Values.resources"))
	args, _ := manager["args"].([]any)
	manager["args"] = append(args,
		f.tk.add(insert("{{- with .Values.logLevel }}", "- --"+flags.logLevel+"={{ . }}", "{{- end }}")),
		f.tk.add(insert("{{- with .Values.excludedNamespaces }}",
			"- --"+flags.excludedNamespaces+`={{ join "," . }}`, "{{- end }}")),
		// The chart installs the monitoring objects itself: the operator must not apply them too.
		f.tk.add(insert("{{- if "+monitoringEnabled+" }}", "- --"+flags.installMonitoring+"=false", "{{- end }}")))
	// The values' affinity replaces config's rather than merging into it (Helm merges maps of values).
	affinity, err := yamlLines(pod["affinity"])
	if err != nil {
		return err
	}
	pod["affinity"] = f.tk.add(blockOr(".Values.affinity", affinity))
	pod["nodeSelector"] = f.tk.add(optionalBlock(".Values.nodeSelector"))
	pod["tolerations"] = f.tk.add(optionalBlock(".Values.tolerations"))
	pod[f.tk.add(insert("{{- with .Values.priorityClassName }}", "priorityClassName: {{ . }}", "{{- end }}"))] = ""
	return unstructured.SetNestedMap(obj, pod, "spec", "template", "spec")
}

// certificate lets the values name the issuer; by default it is config/certmanager's self-signed Issuer.
func (f *templateFile) certificate() error {
	issuerRef, _, err := unstructured.NestedMap(f.obj.Object, "spec", "issuerRef")
	if err != nil {
		return err
	}
	fallback, err := yamlLines(issuerRef)
	if err != nil {
		return err
	}
	return unstructured.SetNestedField(f.obj.Object,
		f.tk.add(blockOr(".Values.webhook.certManager.issuerRef", fallback)), "spec", "issuerRef")
}

// yamlLines is v as lines of YAML.
func yamlLines(v any) ([]string, error) {
	raw, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(raw), "\n"), "\n"), nil
}

// render returns the template file's text.
func (f *templateFile) render() (string, error) {
	raw, err := yaml.Marshal(f.obj.Object)
	if err != nil {
		return "", err
	}
	// Template actions the objects hold as text (the alerts' {{ $value }}) stay text.
	text := strings.ReplaceAll(string(raw), "{{", `{{ "{{" }}`)
	if text, err = f.tk.render(text); err != nil {
		return "", fmt.Errorf("%s: %w", f.name, err)
	}
	// After the fragments: they carry names in the namespace too (cert-manager's annotation).
	text = strings.ReplaceAll(text, kustomizeNamespace, "{{ .Release.Namespace }}")
	text = strings.TrimRight(text, "\n") + "\n"
	if f.condition != "" {
		text = "{{- if " + f.condition + " }}\n" + text + "{{- end }}\n"
	}
	return generatedHeader + text, nil
}

// generatedHeader opens every generated template.
const generatedHeader = "# Generated by hack/chartgen from config/ (make helm-chart); do not edit.\n"
