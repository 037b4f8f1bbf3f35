package operator

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArgsSetEveryFlagAndParseBackToTheSameFlags(t *testing.T) {
	want := DefaultFlags()
	want.LeaderElect, want.LeaseDuration, want.WebhookPort, want.PprofAddr = true, 4*time.Second, 12345, "127.0.0.1:6060"
	want.Operator.Controller.RetryBaseDelay = 100 * time.Millisecond
	want.Operator.ExcludedNamespaces = []string{"kube-*", "openshift-?", "monitoring"}

	got := DefaultFlags()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	got.Bind(fs)
	args := want.Args()
	require.NoError(t, fs.Parse(args))
	assert.Equal(t, want, got)
	count := 0
	fs.VisitAll(func(*flag.Flag) { count++ })
	assert.Len(t, args, count, "one argument per flag")
}

func TestAMalformedExcludedNamespaceGlobIsRefusedNamingIt(t *testing.T) {
	f := DefaultFlags()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.Bind(fs)
	err := fs.Parse([]string{"--excluded-namespaces=kube-*,team-[a"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"team-[a"`)
}

func TestTheEnvironmentSetsTheExcludedNamespacesAndTheCommandLineWins(t *testing.T) {
	env := map[string]string{ExcludedNamespacesEnv: "kube-*, openshift-*"}
	f := DefaultFlags()
	require.NoError(t, f.FromEnvironment(func(k string) string { return env[k] }))
	assert.Equal(t, []string{"kube-*", "openshift-*"}, f.Operator.ExcludedNamespaces)

	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.Bind(fs)
	require.NoError(t, fs.Parse([]string{"--excluded-namespaces=monitoring"}))
	assert.Equal(t, []string{"monitoring"}, f.Operator.ExcludedNamespaces)

	env[ExcludedNamespacesEnv] = "team-[a"
	g := DefaultFlags()
	err := g.FromEnvironment(func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), ExcludedNamespacesEnv)
}

func TestTheREADMEConfigurationTableListsEveryFlag(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	readme := string(raw)
	start := strings.Index(readme, "\n## Configuration\n")
	require.GreaterOrEqual(t, start, 0)
	section, _, found := strings.Cut(readme[start+1:], "\n## Metrics")
	require.True(t, found, "no Metrics section after Configuration")

	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := DefaultFlags()
	f.Bind(fs)
	fs.VisitAll(func(fl *flag.Flag) {
		assert.Contains(t, section, "`--"+fl.Name+"`", "the README's Configuration table does not list --%s", fl.Name)
	})
	for _, m := range regexp.MustCompile("`--([a-z0-9-]+)`").FindAllStringSubmatch(section, -1) {
		if !strings.HasPrefix(m[1], "zap-") {
			assert.NotNil(t, fs.Lookup(m[1]), "the README lists --%s, which the operator does not have", m[1])
		}
	}
}

func TestTheLeaderIdentityIsThePodsNameAndUIDOrNone(t *testing.T) {
	env := map[string]string{PodNameEnv: "operator-7d9f-abcde", PodUIDEnv: "0b1c"}
	f := DefaultFlags()
	require.NoError(t, f.FromEnvironment(func(k string) string { return env[k] }))
	assert.Equal(t, "operator-7d9f-abcde_0b1c", f.LeaderIdentity)

	delete(env, PodUIDEnv) // A name alone is not unique: a StatefulSet's replacement pod has the same.
	assert.Empty(t, LeaderIdentity(func(k string) string { return env[k] }), "without the UID, controller-runtime's random identity")
}
