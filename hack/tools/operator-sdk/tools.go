//go:build tools

// Package tools pins operator-sdk, its scorecard-test (the image the bundle's scorecard config runs), and opm and
// grpc_health_probe for the catalog image at the versions operator-sdk itself requires (operator-registry, and the
// probe operator-registry requires, as its opm image does). One module for all of them means one set of versions,
// so a cold build compiles their shared packages (operator-registry, containerd, docker, client-go) once. The proxy
// here refuses the version lists of operator-sdk and operator-registry, so `go install ...@version` fails and the
// Makefile builds them from this module instead.
package tools

import (
	_ "github.com/grpc-ecosystem/grpc-health-probe"
	_ "github.com/operator-framework/operator-registry/cmd/opm"
	_ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
	_ "github.com/operator-framework/operator-sdk/images/scorecard-test"
)
