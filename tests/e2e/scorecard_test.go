//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	scorecardv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// scorecardNamespace is where `operator-sdk scorecard` runs its test pods (their pods have no security context,
// so not the restricted operators namespace).
const scorecardNamespace = "scorecard"

// runScorecard runs `operator-sdk scorecard bundle/` against the cluster, with the images built here, keeps its JSON
// result in E2E_OUTPUT, and requires every test of the bundle's scorecard config to pass.
func (s *stack) runScorecard(t *testing.T) {
	t.Helper()
	s.apply(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scorecardNamespace}})
	bundle := filepath.Join(repoRoot, "bundle")
	start := time.Now()
	cmd := exec.Command(os.Getenv("OPERATOR_SDK"), "scorecard", bundle, "--kubeconfig", s.kubeconfig,
		"--namespace", scorecardNamespace, "--untar-image", scorecardUntarImage, "--storage-image", scorecardStorageImage,
		"--output", "json", "--wait-time", "3m")
	out, err := cmd.Output() // It exits non-zero when a test fails; the JSON says which.
	report(t, "operator-sdk scorecard: %s", time.Since(start).Round(time.Second))
	if dir := os.Getenv("E2E_OUTPUT"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scorecard.json"), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var results scorecardv1alpha3.TestList
	if jsonErr := json.Unmarshal(out, &results); jsonErr != nil {
		stderr := ""
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			stderr = string(exit.Stderr)
		}
		t.Fatalf("operator-sdk scorecard: %v (%v): %s%s", err, jsonErr, out, stderr)
	}
	want := scorecardTests(t, bundle)
	passed := map[string]bool{}
	for _, test := range results.Items {
		name := test.Spec.Labels["test"]
		passed[name] = len(test.Status.Results) > 0
		for _, r := range test.Status.Results {
			if r.State != scorecardv1alpha3.PassState {
				passed[name] = false
				t.Errorf("scorecard %s (%s): %s, errors %v, suggestions %v, log %s", name, r.Name, r.State, r.Errors, r.Suggestions, r.Log)
			}
		}
	}
	for _, name := range want {
		if !passed[name] {
			t.Errorf("scorecard test %s did not pass (results: %v)", name, passed)
		}
	}
	if len(results.Items) != len(want) {
		t.Errorf("scorecard ran %d tests, the config has %d: %v", len(results.Items), len(want), passed)
	}
}

// scorecardTests returns the test labels of the bundle's scorecard config (bundle/tests/scorecard/config.yaml).
func scorecardTests(t *testing.T, bundle string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(bundle, "tests", "scorecard", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var config scorecardv1alpha3.Configuration
	if err := yaml.Unmarshal(raw, &config); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, stage := range config.Stages {
		for _, test := range stage.Tests {
			names = append(names, test.Labels["test"])
		}
	}
	if len(names) == 0 {
		t.Fatal("the bundle's scorecard config runs no test")
	}
	return names
}
