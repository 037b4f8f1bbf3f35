// Command chartgen writes the Helm chart charts/configmapsync-operator from what kustomize builds of config/: the
// operator without OLM (dist/install.yaml, config/install) and its monitoring objects
// (internal/monitoring/manifests.yaml, config/monitoring). Every object becomes a template that is the object as
// built, but for what the values set (tokens.go, objects.go); the few files that have no counterpart in config/
// (helpers, the chart's own webhook certificate) are in static/. `make helm-chart` runs it; `make verify-generated`
// fails when the chart drifts from config/.
package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	crzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/configmapsync/configmapsync-operator/internal/manifests"
	"github.com/configmapsync/configmapsync-operator/internal/operator"
)

//go:embed all:static
var static embed.FS

// certValidityDays is how long the chart's own webhook CA and certificate are valid; they are kept on upgrade.
const certValidityDays = 3650

func main() {
	install := flag.String("install", "dist/install.yaml", "The operator without OLM, as kustomize builds config/install.")
	monitoring := flag.String("monitoring", "internal/monitoring/manifests.yaml", "The monitoring objects, as kustomize builds config/monitoring.")
	version := flag.String("version", "", "The operator's version: the chart's version and appVersion.")
	out := flag.String("out", "charts/configmapsync-operator", "The chart's folder, written anew.")
	flag.Parse()
	if err := run(*install, *monitoring, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "chartgen:", err)
		os.Exit(1)
	}
}

func run(installPath, monitoringPath, version, out string) error {
	if version == "" {
		return errors.New("-version is required")
	}
	flags, err := operatorFlags()
	if err != nil {
		return err
	}
	install, err := decodeFile(installPath)
	if err != nil {
		return err
	}
	monitoringObjects, err := decodeFile(monitoringPath)
	if err != nil {
		return err
	}
	// Read before the templating rules change the objects.
	data, err := staticData(install, version)
	if err != nil {
		return err
	}
	files := map[string]string{}
	for i, obj := range append(install, monitoringObjects...) {
		f, err := templateObject(obj, i >= len(install), flags)
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		text, err := f.render()
		if err != nil {
			return err
		}
		name := filepath.Join("templates", f.name)
		if _, dup := files[name]; dup {
			return fmt.Errorf("two objects make %s", name)
		}
		files[name] = text
	}
	if err := renderStatic(files, data); err != nil {
		return err
	}
	return writeChart(out, files)
}

// operatorFlags returns the names of the flags the chart sets, after checking the manager has them: a renamed flag
// fails the generator instead of the operator's start.
func operatorFlags() (chartFlags, error) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	opts := operator.DefaultFlags()
	opts.Bind(fs)
	(&crzap.Options{}).BindFlags(fs)
	f := chartFlags{logLevel: "zap-log-level", excludedNamespaces: "excluded-namespaces", installMonitoring: "install-monitoring"}
	for _, name := range []string{f.logLevel, f.excludedNamespaces, f.installMonitoring} {
		if fs.Lookup(name) == nil {
			return f, fmt.Errorf("the manager has no flag --%s", name)
		}
	}
	return f, nil
}

func decodeFile(path string) ([]*unstructured.Unstructured, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	objs, err := manifests.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return objs, nil
}

// staticValues is what static/ files take from the objects: defaults of values.yaml and the certificate's names.
type staticValues struct {
	Version, Repository, Tag, Replicas, Resources string
	SecretName, Deployment                        string
	DNSNames                                      []string
	ValidityDays                                  int
}

// staticData reads the static files' data from the kustomize objects (before templating).
func staticData(objs []*unstructured.Unstructured, version string) (*staticValues, error) {
	d := &staticValues{Version: version, ValidityDays: certValidityDays}
	for _, obj := range objs {
		switch obj.GetKind() {
		case "Deployment":
			if err := d.fromDeployment(obj, version); err != nil {
				return nil, err
			}
		case "Certificate":
			d.SecretName, _, _ = unstructured.NestedString(obj.Object, "spec", "secretName")
			names, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "dnsNames")
			for _, n := range names {
				d.DNSNames = append(d.DNSNames, strings.ReplaceAll(n, kustomizeNamespace, "%s"))
			}
		}
	}
	if d.Deployment == "" || d.SecretName == "" || len(d.DNSNames) == 0 {
		return nil, errors.New("the install manifests need a Deployment and a cert-manager Certificate")
	}
	return d, nil
}

// fromDeployment takes the defaults of the values from the Deployment, and checks it mounts the certificate's
// Secret.
func (d *staticValues) fromDeployment(obj *unstructured.Unstructured, version string) error {
	d.Deployment = obj.GetName()
	replicas, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "replicas")
	if !ok {
		return errors.New("the Deployment sets no replicas")
	}
	d.Replicas = fmt.Sprint(replicas) // A number, whichever type the decoder gave it.
	pod, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
	manager := pod["containers"].([]any)[0].(map[string]any)
	image, _ := manager["image"].(string)
	if strings.Contains(image, "@") {
		return fmt.Errorf("image %s: the chart's default names a tag", image)
	}
	i := strings.LastIndex(image, ":")
	if i < 0 {
		return fmt.Errorf("image %s has no tag", image)
	}
	d.Repository = image[:i]
	if tag := image[i+1:]; tag != "v"+version {
		d.Tag = tag // Not the release's: say so in values.yaml.
	}
	var err error
	d.Resources, err = indentedYAML(manager["resources"])
	return err
}

// indentedYAML is v as YAML indented by two spaces, to follow a key of values.yaml.
func indentedYAML(v any) (string, error) {
	lines, err := yamlLines(v)
	if err != nil {
		return "", err
	}
	for i := range lines {
		lines[i] = "  " + lines[i]
	}
	return strings.Join(lines, "\n"), nil
}

// renderStatic adds the files of static/, rendered with data (delimiters [[ ]], as the files are Helm templates).
func renderStatic(files map[string]string, data *staticValues) error {
	return fs.WalkDir(static, "static", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := static.ReadFile(path)
		if err != nil {
			return err
		}
		tpl, err := template.New(path).Delims("[[", "]]").Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := tpl.Execute(&b, data); err != nil {
			return err
		}
		files[strings.TrimPrefix(path, "static/")] = b.String()
		return nil
	})
}

// writeChart replaces the chart's folder by files.
func writeChart(out string, files map[string]string) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
