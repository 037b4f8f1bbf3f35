package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestThePodOperatorGetsTheDeploymentsMemoryLimit reads the manager container's limit from the repository's
// Deployment (256Mi, what the CSV carries), and refuses a Deployment without one.
func TestThePodOperatorGetsTheDeploymentsMemoryLimit(t *testing.T) {
	limit, err := containerMemoryLimit("../config/manager/manager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if limit != 256<<20 {
		t.Fatalf("memory limit %d, want %d", limit, 256<<20)
	}
	path := filepath.Join(t.TempDir(), "manager.yaml")
	noLimit := `apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
      - name: manager
`
	if err := os.WriteFile(path, []byte(noLimit), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := containerMemoryLimit(path); err == nil || !strings.Contains(err.Error(), "no memory limit") {
		t.Fatalf("a Deployment without a limit: error %v", err)
	}
}

// TestThePodOperatorsRightsAreWhatConfigRBACBindsItsServiceAccount checks that the bindings read from config/rbac
// are those of the operator's ServiceAccount: the ClusterRole manager-role and the leader-election Role, and none
// of the roles scaffolded for people.
func TestThePodOperatorsRightsAreWhatConfigRBACBindsItsServiceAccount(t *testing.T) {
	objs, err := readManifests("../config/rbac")
	if err != nil {
		t.Fatal(err)
	}
	var bound []string
	for _, obj := range objs {
		if (obj.GetKind() == "ClusterRoleBinding" || obj.GetKind() == "RoleBinding") && bindsOperator(obj) {
			kind, _ := obj.Object["roleRef"].(map[string]any)["kind"].(string)
			name, _ := obj.Object["roleRef"].(map[string]any)["name"].(string)
			bound = append(bound, kind+"/"+name)
		}
	}
	for _, want := range []string{"ClusterRole/manager-role", "Role/leader-election-role"} {
		if !slices.Contains(bound, want) {
			t.Errorf("bound roles %v lack %s", bound, want)
		}
	}
	for _, r := range bound {
		if strings.Contains(r, "admin") || strings.Contains(r, "editor") || strings.Contains(r, "viewer") {
			t.Errorf("bound roles %v include %s, a role for people", bound, r)
		}
	}
}
