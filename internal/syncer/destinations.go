package syncer

import (
	"path"
	"slices"

	"k8s.io/apimachinery/pkg/labels"
)

// Namespace is what the operator knows of a namespace: enough to match a selector and to skip one being deleted.
type Namespace struct {
	Name        string
	Labels      map[string]string
	Terminating bool
}

// TargetRules say which namespaces a sync writes to.
type TargetRules struct {
	// Listed namespaces, in the user's order, maybe repeated.
	Listed []string
	// Selector selects more; nil or empty selects none.
	Selector labels.Selector
	// Exclude holds names and globs (* and ?) of namespaces never written to, listed or selected: the
	// ConfigMapSync's own exclusions and the operator's.
	Exclude []string
	// Source is the source's namespace when the copy would take the source's name, so that a sync never writes
	// over its own source; empty otherwise.
	Source string
}

// Targets are the namespaces a sync writes to, and the listed ones it cannot or may not write to.
type Targets struct {
	// Namespaces to hold a copy, sorted.
	Namespaces []string
	// Missing lists listed namespaces that do not exist or are being deleted, sorted.
	Missing []string
	// Excluded lists listed namespaces that an exclusion leaves out, sorted.
	Excluded []string
}

// ResolveTargets returns the listed namespaces plus those the selector matches, leaving out namespaces being
// deleted, excluded ones and the source's.
func ResolveTargets(rules TargetRules, namespaces map[string]Namespace) Targets {
	var t Targets
	seen := map[string]bool{rules.Source: true}
	for _, name := range rules.Listed {
		if seen[name] {
			continue
		}
		seen[name] = true
		switch ns, ok := namespaces[name]; {
		case MatchesAny(rules.Exclude, name):
			t.Excluded = append(t.Excluded, name)
		case !ok || ns.Terminating:
			t.Missing = append(t.Missing, name)
		default:
			t.Namespaces = append(t.Namespaces, name)
		}
	}
	if rules.Selector != nil && !rules.Selector.Empty() {
		for name, ns := range namespaces {
			if !seen[name] && !ns.Terminating && rules.Selector.Matches(labels.Set(ns.Labels)) && !MatchesAny(rules.Exclude, name) {
				t.Namespaces = append(t.Namespaces, name)
			}
		}
	}
	slices.Sort(t.Namespaces)
	slices.Sort(t.Missing)
	slices.Sort(t.Excluded)
	return t
}

// MatchesAny reports whether name is one of patterns or matches one of them as a glob: * matches any run of
// characters, ? any one. The schema allows no other special character, so no pattern is malformed.
func MatchesAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
