package syncer

import (
	"slices"

	"k8s.io/apimachinery/pkg/labels"
)

// Namespace is what the operator knows of a namespace: enough to match a selector and to skip one being deleted.
type Namespace struct {
	Name        string
	Labels      map[string]string
	Terminating bool
}

// Targets are the namespaces a sync writes to, and the listed ones it cannot write to yet.
type Targets struct {
	// Namespaces to hold a copy, sorted.
	Namespaces []string
	// Missing lists listed namespaces that do not exist or are being deleted, sorted.
	Missing []string
}

// ResolveTargets returns the listed namespaces plus those selector matches (nil matches none), leaving out
// namespaces being deleted and exclude (the source's own namespace when the copy would take the source's name).
func ResolveTargets(listed []string, selector labels.Selector, namespaces map[string]Namespace, exclude string) Targets {
	var t Targets
	seen := map[string]bool{exclude: true}
	for _, name := range listed {
		if seen[name] {
			continue
		}
		seen[name] = true
		if ns, ok := namespaces[name]; !ok || ns.Terminating {
			t.Missing = append(t.Missing, name)
			continue
		}
		t.Namespaces = append(t.Namespaces, name)
	}
	if selector != nil && !selector.Empty() {
		for name, ns := range namespaces {
			if !seen[name] && !ns.Terminating && selector.Matches(labels.Set(ns.Labels)) {
				t.Namespaces = append(t.Namespaces, name)
			}
		}
	}
	slices.Sort(t.Namespaces)
	slices.Sort(t.Missing)
	return t
}
