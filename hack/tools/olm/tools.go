//go:build tools

// Package tools pins OLM v0's commands for the end-to-end tests' OLM image: the olm, catalog and package-server
// operators, copy-content and cpb. OLM's go.mod replaces modules, which `go install` refuses, so this module copies
// its go.mod (module line renamed) and adds OLM itself.
package tools

import (
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/package-server"
	_ "github.com/operator-framework/operator-lifecycle-manager/util/cpb"
)
