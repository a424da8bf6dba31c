package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// Release name and namespace the chart is rendered with; the plain
// manifests use them too.
const (
	releaseName = "glb"
	namespace   = "glb"
)

// newObject returns an empty object of the Go type of apiVersion/kind:
// the kinds the chart may render. Any other kind is an error, so that a
// new kind gets a strict check when it is added here.
func newObject(apiVersion, kind string) (any, bool) {
	switch apiVersion + "/" + kind {
	case "v1/Service":
		return &corev1.Service{}, true
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, true
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1/Secret":
		return &corev1.Secret{}, true
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, true
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}, true
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}, true
	case "monitoring.coreos.com/v1/PrometheusRule":
		return &monitoringv1.PrometheusRule{}, true
	}
	return nil, false
}

// object is one decoded manifest document.
type object struct {
	kind, name string
	source     string // template file, or manifest file and document number
	value      any    // *appsv1.Deployment and so on
}

// decodeStrict decodes one YAML document into its Kubernetes type,
// rejecting unknown and duplicate fields, and checks what the API server
// would refuse at once: no name, a workload whose selector does not match
// its pods or whose containers mount volumes it lacks.
func decodeStrict(doc []byte, source string) (object, error) {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return object{}, fmt.Errorf("%s: %w", source, err)
	}
	v, ok := newObject(tm.APIVersion, tm.Kind)
	if !ok {
		return object{}, fmt.Errorf("%s: kind %s/%s is not one k8scheck knows (add it to newObject)", source, tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, v); err != nil {
		return object{}, fmt.Errorf("%s: %s %q: %w", source, tm.Kind, tm.Metadata.Name, err)
	}
	if tm.Metadata.Name == "" {
		return object{}, fmt.Errorf("%s: %s without metadata.name", source, tm.Kind)
	}
	o := object{kind: tm.Kind, name: tm.Metadata.Name, source: source, value: v}
	if err := checkWorkload(o); err != nil {
		return object{}, fmt.Errorf("%s: %s %q: %w", source, o.kind, o.name, err)
	}
	return o, nil
}

// checkWorkload checks a Deployment's or DaemonSet's selector and volumes.
func checkWorkload(o object) error {
	var sel map[string]string
	var pod corev1.PodTemplateSpec
	switch w := o.value.(type) {
	case *appsv1.Deployment:
		if w.Spec.Selector != nil {
			sel = w.Spec.Selector.MatchLabels
		}
		pod = w.Spec.Template
	case *appsv1.DaemonSet:
		if w.Spec.Selector != nil {
			sel = w.Spec.Selector.MatchLabels
		}
		pod = w.Spec.Template
	default:
		return nil
	}
	if len(sel) == 0 {
		return errors.New("no selector")
	}
	for k, v := range sel {
		if pod.Labels[k] != v {
			return fmt.Errorf("selector %s=%s does not match the pod template's labels", k, v)
		}
	}
	volumes := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if c.Image == "" {
			return fmt.Errorf("container %s: no image", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				return fmt.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, m.Name)
			}
		}
	}
	return nil
}

// decodeAll decodes every document of a multi-document YAML stream.
func decodeAll(stream []byte, source string) ([]object, error) {
	var objs []object
	for i, doc := range bytes.Split(stream, []byte("\n---")) {
		doc = bytes.TrimPrefix(doc, []byte("---"))
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		o, err := decodeStrict(doc, fmt.Sprintf("%s document %d", source, i+1))
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// stripComments drops comment lines, to tell an empty document.
func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// variant is one set of values the chart is rendered with.
type variant struct {
	name   string
	values map[string]any
}

// variants are the default values and each file of the chart's ci/
// directory (the chart-testing convention), all documented in the chart's
// README.
func variants(chartDir string) ([]variant, error) {
	vs := []variant{{name: "defaults", values: map[string]any{}}}
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		vals, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		vs = append(vs, variant{name: "ci/" + filepath.Base(f), values: vals})
	}
	return vs, nil
}

// render renders the chart with values as helm template would, and
// returns the manifests in a stable order (by template file name), with
// the NOTES and empty documents left out.
func render(chartDir string, values map[string]any) ([]releaseutil.Manifest, error) {
	chrt, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals, err := chartutil.ToRenderValues(chrt, values,
		chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	var all strings.Builder
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.HasSuffix(n, ".tpl") {
			continue
		}
		// One "# Source:" line per document, as helm template writes, so
		// that errors name the template.
		for _, doc := range strings.Split(files[n], "\n---") {
			if len(bytes.TrimSpace(stripComments([]byte(doc)))) > 0 {
				fmt.Fprintf(&all, "---\n# Source: %s\n%s\n", n, strings.TrimPrefix(doc, "\n"))
			}
		}
	}
	_, manifests, err := releaseutil.SortManifests(releaseutil.SplitManifests(all.String()), chartutil.VersionSet{"v1", "apps/v1", "policy/v1", "monitoring.coreos.com/v1"}, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("split manifests: %w", err)
	}
	return manifests, nil
}

// lintChart runs helm lint's checks (Chart.yaml, values, templates) for
// values; errors only, warnings and infos pass.
func lintChart(chartDir string, values map[string]any) error {
	l := lint.All(chartDir, values, namespace, false)
	var errs []error
	for _, m := range l.Messages {
		if m.Severity >= support.ErrorSev {
			errs = append(errs, errors.New(m.Error()))
		}
	}
	return errors.Join(errs...)
}

// checkChart lints and renders the chart for one variant and decodes the
// objects strictly.
func checkChart(chartDir string, v variant) ([]object, error) {
	if err := lintChart(chartDir, v.values); err != nil {
		return nil, fmt.Errorf("helm lint: %w", err)
	}
	manifests, err := render(chartDir, v.values)
	if err != nil {
		return nil, err
	}
	var objs []object
	for _, m := range manifests {
		source := m.Name
		if _, rest, ok := strings.Cut(m.Content, "# Source: "); ok {
			source, _, _ = strings.Cut(rest, "\n")
		}
		o, err := decodeStrict([]byte(m.Content), source)
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return nil, errors.New("no objects rendered")
	}
	return objs, nil
}

// result is the outcome of one check.
type result struct {
	name    string
	objects []object
	err     error
}

// checkAll checks every variant of the chart and the plain manifests.
func checkAll(chartDir, manifestDir string) []result {
	vs, err := variants(chartDir)
	if err != nil {
		return []result{{name: "chart variants", err: err}}
	}
	var rs []result
	for _, v := range vs {
		objs, err := checkChart(chartDir, v)
		rs = append(rs, result{name: "chart " + v.name, objects: objs, err: err})
	}
	objs, err := checkManifests(chartDir, manifestDir)
	rs = append(rs, result{name: manifestPath(manifestDir), objects: objs, err: err})
	return rs
}

// summary is "Deployment/glb-glbd, Service/glb-dns, ...".
func summary(objs []object) string {
	s := make([]string, len(objs))
	for i, o := range objs {
		s[i] = o.kind + "/" + o.name
	}
	return strings.Join(s, ", ")
}

// manifestPath is the plain manifests' file.
func manifestPath(dir string) string { return filepath.Join(dir, "glb.yaml") }

// manifestHeader starts the generated plain manifests.
const manifestHeader = `# glb's plain Kubernetes manifests: the Helm chart deploy/helm/glb rendered
# for deploy/kubernetes/values.yaml, release %q in namespace %q.
# Generated by make k8s-manifests; do not edit: change values.yaml (or the
# chart) and regenerate. make k8s-check fails when this file is stale.
`

// renderManifests is the plain manifests the chart gives for
// manifestDir/values.yaml.
func renderManifests(chartDir, manifestDir string) ([]byte, error) {
	vals, err := chartutil.ReadValuesFile(filepath.Join(manifestDir, "values.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read values: %w", err)
	}
	manifests, err := render(chartDir, vals)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, manifestHeader, releaseName, namespace)
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n%s\n", strings.TrimSpace(m.Content))
	}
	return b.Bytes(), nil
}

// writeManifests regenerates the plain manifests.
func writeManifests(chartDir, manifestDir string) error {
	b, err := renderManifests(chartDir, manifestDir)
	if err != nil {
		return err
	}
	return os.WriteFile(manifestPath(manifestDir), b, 0o644)
}

// checkManifests decodes the plain manifests strictly, then checks they
// are what the chart renders now.
func checkManifests(chartDir, manifestDir string) ([]object, error) {
	have, err := os.ReadFile(manifestPath(manifestDir))
	if err != nil {
		return nil, err
	}
	objs, err := decodeAll(have, manifestPath(manifestDir))
	if err != nil {
		return nil, err
	}
	want, err := renderManifests(chartDir, manifestDir)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(have, want) {
		return nil, fmt.Errorf("%s is not what the chart renders for values.yaml: run make k8s-manifests", manifestPath(manifestDir))
	}
	return objs, nil
}
