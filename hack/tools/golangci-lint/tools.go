//go:build tools

// Package tools pins golangci-lint: the proxy here refuses its version list, so `go install ...@v` fails and the
// Makefile builds it from this module instead.
package tools

import _ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
