//go:build tools

// Package tools pins opm and grpc_health_probe (the version operator-registry requires, as its opm image does):
// the proxy here refuses the version list of github.com/operator-framework/operator-registry, so
// `go install ...@v1.61.0` fails and the Makefile builds them from this module instead.
package tools

import (
	_ "github.com/grpc-ecosystem/grpc-health-probe"
	_ "github.com/operator-framework/operator-registry/cmd/opm"
)
