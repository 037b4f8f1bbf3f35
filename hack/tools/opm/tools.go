//go:build tools

// Package tools pins opm: the proxy here refuses the version list of github.com/operator-framework/operator-registry, so `go install ...@v1.61.0` fails and
// the Makefile builds it from this module instead.
package tools

import _ "github.com/operator-framework/operator-registry/cmd/opm"
