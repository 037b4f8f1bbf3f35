package managedsecret

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/configmapsync/configmapsync-operator/internal/syncer"
	"github.com/configmapsync/configmapsync-operator/internal/testkit"
)

// testKeys are the ownership keys of the unit tests' reconcilers.
var testKeys = syncer.Keys{Current: syncer.NewKey([]byte("unit-test-ownership-key-32-bytes"))}

// secretDeployment returns a Deployment of namespace that reads the Secret secret through envFrom, created at
// created.
func secretDeployment(namespace, name, secret string, created time.Time) *appsv1.Deployment {
	return testkit.Deployment(namespace, name, testkit.SecretEnv(secret), created)
}
