//go:build tools

// Package tools pins controller-gen. The Makefile builds it from this module with aligned-go-build, so that the
// Kubernetes API packages it shares with the operator compile once, at the operator's versions.
package tools

import (
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
