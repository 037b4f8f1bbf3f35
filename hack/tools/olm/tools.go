//go:build tools

// Package tools pins OLM v0's commands for the end-to-end tests' OLM image: the olm, catalog and package-server
// operators, copy-content and cpb. OLM's go.mod replaces modules, which `go install` refuses, so this module copies
// its go.mod (module line renamed) and adds OLM itself.
//
// Every module this one shares with hack/tools/operator-sdk is raised to operator-sdk's version (client-go and its
// dependencies among them), except operator-framework/api and operator-registry, which OLM pins, and
// k8s.io/apiserver and apiextensions-apiserver, whose 0.33.9 needs a k8s.io/kms the checksum database here does
// not know. So the Go build cache compiles the client libraries once for both.
package tools

import (
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/package-server"
	_ "github.com/operator-framework/operator-lifecycle-manager/util/cpb"
)
