//go:build tools

// Package tools pins crictl, for looking at the containers of `make cluster`'s node (`make cluster-shell`).
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
