//go:build tools

// Package tools pins helm, which renders OLM v0's release manifests from its chart, as OLM's release script does.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
