// Package olmv1 renders a registry+v1 bundle into the objects OLM v1 (operator-controller v1.11.0) creates for it,
// and derives from them the least-privilege RBAC of the ServiceAccount a ClusterExtension installs under
// (InstallerRBAC). The rendering follows operator-controller's rukpak/render/registryv1 generators for an
// AllNamespaces install with cert-manager as the webhook certificate provider: the same kinds, names (the
// ClusterRoles' content hashes included), namespaces and wiring. operator-controller's renderer is an internal
// package of a module the Go module proxy does not serve, so it cannot be imported. Compared object for object with
// that renderer (built from its v1.11.0 source) on bundle/ of 0.3.0: the same 23 objects in the same order, equal but
// for the namespace it sets on webhook configurations, which the API server clears on cluster-scoped kinds.
// hack/olmv1rbac writes config/olmv1/installer-rbac.yaml from this package and tests/olmv1rbac proves it on a real
// API server.
package olmv1

import (
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
)

const (
	// FieldManager is the field manager OLM v1 writes the objects of an extension with (its prefix; the Boxcutter
	// runtime appends "/clusterextension-controller").
	FieldManager = "olm.operatorframework.io"
	// OwnerKindLabel is one of the two labels OLM v1 puts on every object of an extension: the owner's kind.
	OwnerKindLabel = "olm.operatorframework.io/owner-kind"
	// OwnerNameLabel is the other: the ClusterExtension's name (OLM v1's cache selects by it).
	OwnerNameLabel = "olm.operatorframework.io/owner-name"
	// ExtensionGroup is the API group of the ClusterExtension, which owns every object of an extension.
	ExtensionGroup = "olm.operatorframework.io"
	// ExtensionVersion is the ClusterExtension's API version.
	ExtensionVersion = "v1"
	// ExtensionKind is the ClusterExtension's kind.
	ExtensionKind = "ClusterExtension"

	maxNameLength           = 63
	certManagerInjectCA     = "cert-manager.io/inject-ca-from"
	certManagerAPIVersion   = "cert-manager.io/v1"
	webhookCertMountPath    = "/tmp/k8s-webhook-server/serving-certs"
	apiServiceCertMountPath = "/apiserver.local.config/certificates"
)

// Install names where and as what an extension is installed.
type Install struct {
	// Namespace is the ClusterExtension's spec.namespace.
	Namespace string
	// ExtensionName is the ClusterExtension's name.
	ExtensionName string
	// InstallerName is the ServiceAccount (in Namespace) the ClusterExtension names in spec.serviceAccount.
	InstallerName string
}

// Bundle is a registry+v1 bundle's manifests/ folder: its CSV, its CRDs and the other objects.
type Bundle struct {
	CSV    v1alpha1.ClusterServiceVersion
	CRDs   []apiextensionsv1.CustomResourceDefinition
	Others []*unstructured.Unstructured
}

// LoadBundle reads dir/manifests/*.yaml, in file name order as OLM's bundle parser does.
func LoadBundle(dir string) (*Bundle, error) {
	files, err := filepath.Glob(filepath.Join(dir, "manifests", "*.yaml"))
	if err != nil {
		return nil, err
	}
	b := &Bundle{}
	csvs := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		objs, err := manifests.Decode(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, obj := range objs {
			switch obj.GetKind() {
			case "ClusterServiceVersion":
				csvs++
				err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &b.CSV)
			case "CustomResourceDefinition":
				var crd apiextensionsv1.CustomResourceDefinition
				err = runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &crd)
				b.CRDs = append(b.CRDs, crd)
			default:
				b.Others = append(b.Others, obj)
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, obj.GetKind(), err)
			}
		}
	}
	if csvs != 1 {
		return nil, fmt.Errorf("%s/manifests holds %d ClusterServiceVersions, want 1", dir, csvs)
	}
	return b, nil
}

// Render returns the objects OLM v1 creates for b installed in AllNamespaces mode into in.Namespace, in the order of
// its generators: ServiceAccounts, ClusterRoles and their bindings (the CSV's permissions promoted to the cluster),
// CRDs (conversion wired to the webhook Service), the bundle's other objects, Deployments, webhook configurations,
// webhook Services, and cert-manager's Issuer and Certificate. Each carries OLM v1's owner labels.
func Render(b *Bundle, in Install) ([]*unstructured.Unstructured, error) {
	var objs []any
	objs = append(objs, serviceAccounts(b, in)...)
	objs = append(objs, clusterPermissions(b, in)...)
	crds, err := crdsWithConversion(b, in)
	if err != nil {
		return nil, err
	}
	objs = append(objs, crds...)
	for _, other := range b.Others {
		obj := other.DeepCopy()
		res, ok := ResourceOf(obj.GroupVersionKind().GroupKind())
		if !ok {
			return nil, fmt.Errorf("bundle object %s %s: kind not known to this renderer", obj.GetKind(), obj.GetName())
		}
		if res.Namespaced {
			obj.SetNamespace(in.Namespace)
		}
		objs = append(objs, obj)
	}
	objs = append(objs, deployments(b, in)...)
	objs = append(objs, webhookConfigurations(b, in)...)
	objs = append(objs, webhookServices(b, in)...)
	objs = append(objs, certificates(b, in)...)

	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		u, err := ToUnstructured(obj)
		if err != nil {
			return nil, err
		}
		u.SetLabels(mergeMaps(u.GetLabels(), map[string]string{OwnerKindLabel: ExtensionKind, OwnerNameLabel: in.ExtensionName}))
		out = append(out, u)
	}
	return out, nil
}

// ToUnstructured converts a typed object to the form it is applied and written in: no creationTimestamp, no status.
func ToUnstructured(obj any) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func saNameOrDefault(name string) string { return cmp.Or(name, "default") }

// serviceAccounts: one per name the CSV's permissions and clusterPermissions use, but "default".
func serviceAccounts(b *Bundle, in Install) []any {
	spec := b.CSV.Spec.InstallStrategy.StrategySpec
	var names []string
	for _, p := range slices.Concat(spec.Permissions, spec.ClusterPermissions) {
		if name := saNameOrDefault(p.ServiceAccountName); name != "default" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	objs := make([]any, 0, len(names))
	for _, name := range names {
		objs = append(objs, &corev1.ServiceAccount{TypeMeta: typeMeta("v1", "ServiceAccount"),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.Namespace}})
	}
	return objs
}

// clusterPermissions: a ClusterRole and ClusterRoleBinding per clusterPermission and per permission (AllNamespaces
// mode promotes permissions to the cluster, each with get/list/watch on namespaces added), named after the CSV,
// the ServiceAccount and a hash of the permission.
func clusterPermissions(b *Bundle, in Install) []any {
	spec := b.CSV.Spec.InstallStrategy.StrategySpec
	perms := slices.Clone(spec.ClusterPermissions)
	for _, p := range spec.Permissions {
		p.Rules = append(slices.Clone(p.Rules), rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"},
			APIGroups: []string{corev1.GroupName}, Resources: []string{"namespaces"}})
		perms = append(perms, p)
	}
	objs := make([]any, 0, 2*len(perms))
	for _, p := range perms {
		sa := saNameOrDefault(p.ServiceAccountName)
		name := nameForBaseAndSuffix(b.CSV.Name+"-"+sa, deepHash(p))
		objs = append(objs,
			&rbacv1.ClusterRole{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRole"),
				ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: p.Rules},
			&rbacv1.ClusterRoleBinding{TypeMeta: typeMeta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: in.Namespace, Name: sa}},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
	}
	return objs
}

// deepHash is operator-controller's DeepHashObject: base 36 of the SHA-224 of the object's JSON encoding.
func deepHash(obj any) string {
	hasher := sha256.New224()
	if err := json.NewEncoder(hasher).Encode(obj); err != nil {
		panic(fmt.Sprintf("couldn't encode object: %v", err))
	}
	var i big.Int
	i.SetBytes(hasher.Sum(nil))
	return i.Text(36)
}

// nameForBaseAndSuffix is operator-controller's ObjectNameForBaseAndSuffix: base-suffix, base cut to fit 63.
func nameForBaseAndSuffix(base, suffix string) string {
	if len(base)+len(suffix) > maxNameLength {
		base = base[:maxNameLength-len(suffix)-1]
	}
	return base + "-" + suffix
}

// WebhookServiceName is the Service OLM v1 creates for a Deployment that serves webhooks.
func WebhookServiceName(deployment string) string {
	return nameForBaseAndSuffix(strings.ReplaceAll(deployment, ".", "-"), "service")
}

// CertificateName is the cert-manager Certificate (and its Secret) OLM v1 creates for a Deployment's webhooks.
func CertificateName(deployment string) string {
	return nameForBaseAndSuffix(WebhookServiceName(deployment), "cert")
}

// IssuerName is the self-signed cert-manager Issuer of CertificateName.
func IssuerName(deployment string) string {
	return nameForBaseAndSuffix(CertificateName(deployment), "selfsigned-issuer")
}

func caInjection(in Install, deployment string) map[string]string {
	return map[string]string{certManagerInjectCA: in.Namespace + "/" + CertificateName(deployment)}
}

func crdsWithConversion(b *Bundle, in Install) ([]any, error) {
	conversions := map[string]v1alpha1.WebhookDescription{}
	for _, wh := range b.CSV.Spec.WebhookDefinitions {
		if wh.Type == v1alpha1.ConversionWebhook {
			for _, crd := range wh.ConversionCRDs {
				conversions[crd] = wh
			}
		}
	}
	objs := make([]any, 0, len(b.CRDs))
	for _, crd := range b.CRDs {
		cp := crd.DeepCopy()
		cp.TypeMeta = typeMeta("apiextensions.k8s.io/v1", "CustomResourceDefinition")
		if wh, ok := conversions[crd.Name]; ok {
			if crd.Spec.PreserveUnknownFields {
				return nil, fmt.Errorf("CRD %s: spec.preserveUnknownFields must be false for webhook conversion", crd.Name)
			}
			cp.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
				Strategy: apiextensionsv1.WebhookConverter,
				Webhook: &apiextensionsv1.WebhookConversion{
					ClientConfig: &apiextensionsv1.WebhookClientConfig{Service: &apiextensionsv1.ServiceReference{
						Namespace: in.Namespace, Name: WebhookServiceName(wh.DeploymentName),
						Path: ptr.To(cmp.Or(ptr.Deref(wh.WebhookPath, ""), "/")), Port: ptr.To(wh.ContainerPort)}},
					ConversionReviewVersions: wh.AdmissionReviewVersions,
				},
			}
			cp.Annotations = mergeMaps(cp.Annotations, caInjection(in, wh.DeploymentName))
		}
		objs = append(objs, cp)
	}
	return objs, nil
}

func deployments(b *Bundle, in Install) []any {
	serving := map[string]bool{}
	for _, wh := range b.CSV.Spec.WebhookDefinitions {
		serving[wh.DeploymentName] = true
	}
	specs := b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	objs := make([]any, 0, len(specs))
	for _, ds := range specs {
		spec := *ds.Spec.DeepCopy()
		annotations := mergeMaps(b.CSV.Annotations, spec.Template.Annotations)
		annotations["olm.targetNamespaces"] = ""
		annotations["olm.operatorNamespace"] = in.Namespace
		spec.Template.Annotations = annotations
		spec.RevisionHistoryLimit = ptr.To(int32(1))
		dep := &appsv1.Deployment{TypeMeta: typeMeta("apps/v1", "Deployment"),
			ObjectMeta: metav1.ObjectMeta{Name: ds.Name, Namespace: in.Namespace, Labels: ds.Label}, Spec: spec}
		if serving[ds.Name] {
			mountCertificate(dep, CertificateName(ds.Name))
		}
		objs = append(objs, dep)
	}
	return objs
}

// mountCertificate replaces the certificate volumes (by name or mount path) with the Certificate's Secret, at the
// webhook server's and the API service's paths, as OLM v1 does.
func mountCertificate(dep *appsv1.Deployment, secret string) {
	type certVolume struct{ name, path, cert, key string }
	certVolumes := []certVolume{
		{"webhook-cert", webhookCertMountPath, "tls.crt", "tls.key"},
		{"apiservice-cert", apiServiceCertMountPath, "apiserver.crt", "apiserver.key"},
	}
	remove := map[string]bool{}
	volumes := make([]corev1.Volume, 0, len(certVolumes))
	mounts := make([]corev1.VolumeMount, 0, len(certVolumes))
	for _, cv := range certVolumes {
		remove[cv.name] = true
		volumes = append(volumes, corev1.Volume{Name: cv.name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: secret, Items: []corev1.KeyToPath{{Key: "tls.crt", Path: cv.cert}, {Key: "tls.key", Path: cv.key}}}}})
		mounts = append(mounts, corev1.VolumeMount{Name: cv.name, MountPath: cv.path})
	}
	pod := &dep.Spec.Template.Spec
	for _, c := range pod.Containers {
		for _, m := range c.VolumeMounts {
			if m.MountPath == webhookCertMountPath || m.MountPath == apiServiceCertMountPath {
				remove[m.Name] = true
			}
		}
	}
	pod.Volumes = append(slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return remove[v.Name] }), volumes...)
	for i := range pod.Containers {
		c := &pod.Containers[i]
		c.VolumeMounts = append(slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return remove[m.Name] }), mounts...)
	}
}

func webhookClientConfig(in Install, wh v1alpha1.WebhookDescription) admissionregistrationv1.WebhookClientConfig {
	return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
		Namespace: in.Namespace, Name: WebhookServiceName(wh.DeploymentName), Path: wh.WebhookPath, Port: ptr.To(wh.ContainerPort)}}
}

// webhookConfigurations: one configuration per validating and mutating webhook definition (validating first),
// named after its generateName.
func webhookConfigurations(b *Bundle, in Install) []any {
	var validating, mutating []any
	for _, wh := range b.CSV.Spec.WebhookDefinitions {
		name := strings.TrimSuffix(wh.GenerateName, "-")
		meta := metav1.ObjectMeta{Name: name, Annotations: caInjection(in, wh.DeploymentName)}
		switch wh.Type {
		case v1alpha1.ValidatingAdmissionWebhook:
			validating = append(validating, &admissionregistrationv1.ValidatingWebhookConfiguration{
				TypeMeta: typeMeta("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"), ObjectMeta: meta,
				Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: name, Rules: wh.Rules, FailurePolicy: wh.FailurePolicy,
					MatchPolicy: wh.MatchPolicy, ObjectSelector: wh.ObjectSelector, SideEffects: wh.SideEffects,
					TimeoutSeconds: wh.TimeoutSeconds, AdmissionReviewVersions: wh.AdmissionReviewVersions,
					ClientConfig: webhookClientConfig(in, wh)}}})
		case v1alpha1.MutatingAdmissionWebhook:
			mutating = append(mutating, &admissionregistrationv1.MutatingWebhookConfiguration{
				TypeMeta: typeMeta("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"), ObjectMeta: meta,
				Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: name, Rules: wh.Rules, FailurePolicy: wh.FailurePolicy,
					MatchPolicy: wh.MatchPolicy, ObjectSelector: wh.ObjectSelector, SideEffects: wh.SideEffects,
					TimeoutSeconds: wh.TimeoutSeconds, AdmissionReviewVersions: wh.AdmissionReviewVersions,
					ClientConfig: webhookClientConfig(in, wh), ReinvocationPolicy: wh.ReinvocationPolicy}}})
		}
	}
	return append(validating, mutating...)
}

// webhookDeployments lists the Deployments that serve webhooks, in the CSV's Deployment order.
func webhookDeployments(b *Bundle) []appsv1.Deployment {
	var deps []appsv1.Deployment
	for _, ds := range b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		if slices.ContainsFunc(b.CSV.Spec.WebhookDefinitions, func(wh v1alpha1.WebhookDescription) bool {
			return wh.DeploymentName == ds.Name
		}) {
			deps = append(deps, appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: ds.Name}, Spec: ds.Spec})
		}
	}
	return deps
}

// webhookServices: one Service per webhook-serving Deployment, a port per distinct container/target port.
func webhookServices(b *Bundle, in Install) []any {
	deps := webhookDeployments(b)
	objs := make([]any, 0, len(deps))
	for _, dep := range deps {
		var ports []corev1.ServicePort
		for _, wh := range b.CSV.Spec.WebhookDefinitions {
			if wh.DeploymentName != dep.Name {
				continue
			}
			port := cmp.Or(wh.ContainerPort, 443)
			target := intstr.FromInt32(port)
			if wh.TargetPort != nil {
				target = *wh.TargetPort
			}
			sp := corev1.ServicePort{Name: fmt.Sprint(port), Port: port, TargetPort: target}
			if !slices.Contains(ports, sp) {
				ports = append(ports, sp)
			}
		}
		slices.SortStableFunc(ports, func(a, b corev1.ServicePort) int {
			return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.TargetPort.IntValue(), b.TargetPort.IntValue()))
		})
		var selector map[string]string
		if dep.Spec.Selector != nil {
			selector = dep.Spec.Selector.MatchLabels
		}
		objs = append(objs, &corev1.Service{TypeMeta: typeMeta("v1", "Service"),
			ObjectMeta: metav1.ObjectMeta{Name: WebhookServiceName(dep.Name), Namespace: in.Namespace},
			Spec:       corev1.ServiceSpec{Ports: ports, Selector: selector}})
	}
	return objs
}

// certificates: cert-manager's self-signed Issuer and a two-year server Certificate for each webhook Service.
func certificates(b *Bundle, in Install) []any {
	deps := webhookDeployments(b)
	objs := make([]any, 0, 2*len(deps))
	for _, dep := range deps {
		svc := WebhookServiceName(dep.Name) + "." + in.Namespace
		issuer := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": certManagerAPIVersion, "kind": "Issuer",
			"metadata": map[string]any{"name": IssuerName(dep.Name), "namespace": in.Namespace},
			"spec":     map[string]any{"selfSigned": map[string]any{}},
		}}
		cert := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": certManagerAPIVersion, "kind": "Certificate",
			"metadata": map[string]any{"name": CertificateName(dep.Name), "namespace": in.Namespace},
			"spec": map[string]any{
				"secretName": CertificateName(dep.Name), "commonName": svc, "usages": []any{"server auth"},
				"dnsNames":  []any{svc, svc + ".svc", svc + ".svc.cluster.local"},
				"issuerRef": map[string]any{"name": IssuerName(dep.Name)}, "duration": "17520h0m0s", "renewBefore": "24h0m0s",
			},
		}}
		objs = append(objs, issuer, cert)
	}
	return objs
}

func mergeMaps(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
