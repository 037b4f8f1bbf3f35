package syncer

import (
	"strings"

	syncv1 "github.com/configmapsync/configmapsync-operator/api/v1"
)

// Tracking metadata of GitOps and packaging tools, never copied: a copy carrying it would be claimed (and pruned
// or fought over) by the tool that manages the source.
var (
	droppedKeys = map[string]bool{
		"app.kubernetes.io/instance":                       true, // Argo CD's default tracking label
		"kubectl.kubernetes.io/last-applied-configuration": true,
		"deployment.kubernetes.io/revision":                true,
	}
	droppedPrefixes = []string{
		"argocd.argoproj.io/",
		"helm.sh/",
		"meta.helm.sh/",
		"kustomize.toolkit.fluxcd.io/",
		"helm.toolkit.fluxcd.io/",
		"sync.configmapsync.io/",
	}
)

// copiedMetadata returns the labels or annotations of a source that its copies carry: all but tracking metadata
// of other tools, the operator's own keys and the managed-by label, which the operator sets itself.
func copiedMetadata(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		if !dropped(k) {
			out[k] = v
		}
	}
	return out
}

func dropped(key string) bool {
	if droppedKeys[key] || key == syncv1.ManagedByLabel {
		return true
	}
	for _, p := range droppedPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}
