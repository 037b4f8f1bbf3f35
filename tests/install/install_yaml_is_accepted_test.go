// Package install proves the install path without OLM: dist/install.yaml (make build-installer) applies to a real
// API server that has cert-manager's CRDs, every object is accepted, and the certificate's wiring agrees: the
// Certificate names the webhook Service, the Deployment mounts its Secret where the webhook server reads it, and
// cert-manager's CA injector is pointed at it from every webhook and the conversion webhook of the CRD.
package install

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/tests/harness"
)

func TestInstallYAMLAppliesWithCertManager(t *testing.T) {
	env, err := harness.Start(harness.Options{CRDPaths: []string{harness.Path("tests", "testdata", "cert-manager-crds")},
		NoAdmissionWebhooks: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()

	objects := readObjects(t, harness.Path("dist", "install.yaml"))
	byKind := map[string][]*unstructured.Unstructured{}
	for _, obj := range objects {
		byKind[obj.GetKind()] = append(byKind[obj.GetKind()], obj)
	}
	for _, kind := range []string{"Namespace", "CustomResourceDefinition", "Deployment", "Service", "Certificate", "Issuer",
		"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding"} {
		require.NotEmpty(t, byKind[kind], "dist/install.yaml has no %s", kind)
	}

	// As kubectl apply --server-side does, in file order (the Namespace and CRDs come first).
	for _, obj := range objects {
		require.NoError(t, env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj.DeepCopy()),
			client.FieldOwner("install-test"), client.ForceOwnership), "%s %s", obj.GetKind(), obj.GetName())
	}
	for _, obj := range objects {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(obj.GroupVersionKind())
		assert.NoError(t, env.Client.Get(ctx, client.ObjectKeyFromObject(obj), got), "%s %s was not kept", obj.GetKind(), obj.GetName())
	}

	cert := byKind["Certificate"][0]
	certRef := cert.GetNamespace() + "/" + cert.GetName()
	secretName, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	assert.Equal(t, byKind["Issuer"][0].GetName(), issuer, "the Certificate's issuer")

	var webhookService *unstructured.Unstructured
	for _, svc := range byKind["Service"] {
		if ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports"); len(ports) > 0 &&
			fmt.Sprint(ports[0].(map[string]any)["targetPort"]) == "9443" {
			webhookService = svc
		}
	}
	require.NotNil(t, webhookService, "no Service for the webhook port 9443")
	assert.Contains(t, dnsNames, webhookService.GetName()+"."+webhookService.GetNamespace()+".svc", "the Certificate's DNS names")

	deployment := byKind["Deployment"][0]
	assert.Equal(t, deployment.GetNamespace(), cert.GetNamespace(), "the Certificate lives beside the Deployment")
	volumes, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "volumes")
	containers, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", "containers")
	require.Len(t, volumes, 1)
	require.NotEmpty(t, containers)
	volume := volumes[0].(map[string]any)
	assert.Equal(t, secretName, volume["secret"].(map[string]any)["secretName"], "the Deployment mounts the Certificate's Secret")
	mounts, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "volumeMounts")
	require.Len(t, mounts, 1)
	assert.Equal(t, "/tmp/k8s-webhook-server/serving-certs", mounts[0].(map[string]any)["mountPath"])
	assert.Equal(t, volume["name"], mounts[0].(map[string]any)["name"])

	injected := append(append(byKind["ValidatingWebhookConfiguration"], byKind["MutatingWebhookConfiguration"]...),
		byKind["CustomResourceDefinition"][0])
	for _, obj := range injected {
		if obj.GetKind() == "CustomResourceDefinition" && obj.GetName() != "configmapsyncs.sync.configmapsync.io" {
			continue
		}
		assert.Equal(t, certRef, obj.GetAnnotations()["cert-manager.io/inject-ca-from"], "%s %s", obj.GetKind(), obj.GetName())
	}
	for _, crd := range byKind["CustomResourceDefinition"] {
		if strategy, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "strategy"); strategy == "Webhook" {
			assert.Equal(t, certRef, crd.GetAnnotations()["cert-manager.io/inject-ca-from"], "CRD %s converts through the webhook", crd.GetName())
			service, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "webhook", "clientConfig", "service", "name")
			assert.Equal(t, webhookService.GetName(), service, "CRD %s: conversion Service", crd.GetName())
		}
	}
}

// readObjects decodes every object of a multi-document YAML file.
func readObjects(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "run make build-installer")
	out, err := manifests.Decode(data)
	require.NoError(t, err)
	return out
}
