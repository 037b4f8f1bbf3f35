//go:build tools

// Package tools pins OLM v0's olm and catalog operators for the end-to-end tests. OLM's go.mod replaces modules,
// which `go install` refuses, so this module copies its go.mod (module line renamed) and adds OLM itself.
package tools

import (
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
)
