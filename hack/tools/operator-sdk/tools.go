//go:build tools

// Package tools pins operator-sdk and its scorecard-test (the image the bundle's scorecard config runs): the proxy
// here refuses the version list of github.com/operator-framework/operator-sdk, so `go install ...@v1.42.2` fails and
// the Makefile builds them from this module instead.
package tools

import (
	_ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
	_ "github.com/operator-framework/operator-sdk/images/scorecard-test"
)
