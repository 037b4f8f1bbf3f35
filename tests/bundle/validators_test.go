package bundle

import (
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/validation"
	validator "github.com/operator-framework/api/pkg/validation/interfaces"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------------------------------------------
// 1. The operator-framework validators

func TestBundlePassesTheOperatorFrameworkValidators(t *testing.T) {
	b := loadBundle(t)

	// DefaultBundleValidators (CSV, CRD, Bundle) plus the operator-sdk "suite=operatorframework" set and ObjectValidator.
	validators := slices.Concat(validation.DefaultBundleValidators, validator.Validators{
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.AlphaDeprecatedAPIsValidator,
		validation.GoodPracticesValidator,
		validation.ObjectValidator,
	})
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.37"})
	results := validators.Validate(objs...)
	require.NotEmpty(t, results, "the validators returned no results at all")

	for _, a := range allowedWarnings {
		require.NotEmpty(t, a.contains, "an allowed warning must say what it matches")
		require.NotEmpty(t, strings.TrimSpace(a.reason), "allowed warning %v has no reason", a.contains)
	}

	used := make([]bool, len(allowedWarnings))
	for _, r := range results {
		for _, e := range r.Errors {
			t.Errorf("validator error on %q: %s", r.Name, e.Error())
		}
		for _, w := range r.Warnings {
			text := r.Name + ": " + w.Error()
			allowed := false
			for i, a := range allowedWarnings {
				if containsAll(text, a.contains) {
					used[i], allowed = true, true
					t.Logf("allowed warning: %s\n    reason: %s", text, a.reason)
					break
				}
			}
			if !allowed {
				t.Errorf("validator warning not in the allow-list (fix the bundle through config/, or allow it with a "+
					"true reason): %s", text)
			}
		}
	}
	for i, a := range allowedWarnings {
		if !used[i] {
			t.Errorf("allow-list entry %v matches no warning any more: delete it", a.contains)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
