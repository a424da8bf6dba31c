package main

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../helm/glb"
	manifestDir = "../kubernetes"
)

func TestMain(m *testing.M) {
	log.SetOutput(io.Discard) // Helm's loader notes the alerts.yml link on every load
	os.Exit(m.Run())
}

// find returns the object of kind and name, or fails.
func find[T any](t *testing.T, objs []object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.kind == kind && o.name == name {
			return o.value.(T)
		}
	}
	t.Fatalf("no %s %q among %s", kind, name, summary(objs))
	var zero T
	return zero
}

func container(t *testing.T, pod corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range pod.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %s", name)
	return corev1.Container{}
}

// hardened checks what the issue asks of every glb container: non-root
// (from the pod or the container), read-only root, no escalation, only
// NET_BIND_SERVICE.
func hardened(t *testing.T, pod corev1.PodSpec, c corev1.Container, wantRoot bool) {
	t.Helper()
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: securityContext %+v: want a read-only root and no privilege escalation", c.Name, sc)
		return
	}
	if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" ||
		len(sc.Capabilities.Add) != 1 || sc.Capabilities.Add[0] != "NET_BIND_SERVICE" {
		t.Errorf("%s: capabilities %+v: want drop ALL, add NET_BIND_SERVICE only", c.Name, sc.Capabilities)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsUser == nil || psc.RunAsNonRoot == nil {
		t.Fatalf("%s: pod securityContext %+v: want runAsUser and runAsNonRoot", c.Name, psc)
	}
	if root := *psc.RunAsUser == 0 && !*psc.RunAsNonRoot; root != wantRoot {
		t.Errorf("%s: runs as root = %v, want %v", c.Name, root, wantRoot)
	}
}

// TestChartVariants renders the chart for the defaults and each ci/
// variant, decodes every object strictly and checks what each variant is
// documented to give.
func TestChartVariants(t *testing.T) {
	vs, err := variants(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func(t *testing.T, objs []object){
		"defaults": func(t *testing.T, objs []object) {
			d := find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbd")
			if *d.Spec.Replicas != 3 {
				t.Errorf("replicas %d, want 3", *d.Spec.Replicas)
			}
			c := container(t, d.Spec.Template.Spec, "glbd")
			hardened(t, d.Spec.Template.Spec, c, false)
			if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("probes %v %v: want /readyz and /healthz", c.ReadinessProbe, c.LivenessProbe)
			}
			args := strings.Join(c.Args, " ")
			for _, want := range []string{"-dns=:53", "-http=:8053", "-geoip=/var/lib/GeoIP/GeoLite2-City.mmdb", "-etcd-endpoints=http://etcd:2379"} {
				if !strings.Contains(args, want) {
					t.Errorf("glbd args %q lack %s", args, want)
				}
			}
			svc := find[*corev1.Service](t, objs, "Service", "glb-dns")
			if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Spec.Ports) != 2 ||
				svc.Spec.Ports[0].Protocol != corev1.ProtocolUDP || svc.Spec.Ports[1].Protocol != corev1.ProtocolTCP ||
				svc.Spec.Ports[0].Port != 53 || svc.Spec.Ports[1].Port != 53 {
				t.Errorf("DNS Service %+v: want a LoadBalancer with UDP and TCP 53", svc.Spec)
			}
			find[any](t, objs, "PodDisruptionBudget", "glb-glbd")
		},
		"ci/daemonset-values.yaml": func(t *testing.T, objs []object) {
			ds := find[*appsv1.DaemonSet](t, objs, "DaemonSet", "glb-glbd")
			pod := ds.Spec.Template.Spec
			if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
				t.Errorf("hostNetwork %v dnsPolicy %s: want host networking", pod.HostNetwork, pod.DNSPolicy)
			}
			hardened(t, pod, container(t, pod, "glbd"), true)
			if pod.SecurityContext.Sysctls != nil {
				t.Error("a hostNetwork pod must not set sysctls")
			}
			for _, o := range objs {
				if o.name == "glb-dns" {
					t.Error("DNS Service rendered though service.enabled is false")
				}
			}
		},
		"ci/mtls-values.yaml": func(t *testing.T, objs []object) {
			d := find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbd")
			c := container(t, d.Spec.Template.Spec, "glbd")
			if c.LivenessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket == nil {
				t.Errorf("with mTLS the probes must be TCP checks: %+v %+v", c.LivenessProbe, c.ReadinessProbe)
			}
			if !strings.Contains(strings.Join(c.Args, " "), "-http-client-ca=/etc/glb/http-client-ca/ca.crt") {
				t.Errorf("args %q lack -http-client-ca", c.Args)
			}
		},
		"ci/secure-values.yaml": func(t *testing.T, objs []object) {
			d := find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbd")
			pod := d.Spec.Template.Spec
			c := container(t, pod, "glbd")
			args := strings.Join(c.Args, " ")
			for _, want := range []string{"-etcd-cacert=/etc/glb/etcd-tls/ca.crt", "-etcd-cert=", "-etcd-key=", "-etcd-user=glbd",
				"-etcd-password-file=/etc/glb/etcd-password/password", "-http-tls-cert=", "-http-token-file=", "-rrl-rate=20"} {
				if !strings.Contains(args, want) {
					t.Errorf("glbd args %q lack %s", args, want)
				}
			}
			if c.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("readiness scheme %s, want HTTPS", c.ReadinessProbe.HTTPGet.Scheme)
			}
			if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "geoipupdate-init" || len(pod.Containers) != 2 {
				t.Errorf("want a geoipupdate init container and sidecar, got %d init, %d containers", len(pod.InitContainers), len(pod.Containers))
			}
			for _, id := range []string{"fra", "iad", "nrt"} {
				p := find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbprobe-"+id)
				pc := container(t, p.Spec.Template.Spec, "glbprobe")
				hardened(t, p.Spec.Template.Spec, pc, false)
				if a := strings.Join(pc.Args, " "); !strings.Contains(a, "-id="+id) || !strings.Contains(a, "-etcd-user=glbprobe-"+id) {
					t.Errorf("prober %s args %q: want its id and its own etcd user", id, a)
				}
			}
			find[*monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor", "glb-glbd")
			find[*monitoringv1.ServiceMonitor](t, objs, "ServiceMonitor", "glb-glbprobe")
			rule := find[*monitoringv1.PrometheusRule](t, objs, "PrometheusRule", "glb")
			var alerts struct {
				Groups []struct {
					Name string `json:"name"`
				} `json:"groups"`
			}
			b, err := os.ReadFile("../prometheus/alerts.yml")
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(b, &alerts); err != nil {
				t.Fatal(err)
			}
			if len(rule.Spec.Groups) == 0 || len(rule.Spec.Groups) != len(alerts.Groups) {
				t.Errorf("PrometheusRule has %d groups, deploy/prometheus/alerts.yml %d", len(rule.Spec.Groups), len(alerts.Groups))
			}
		},
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			objs, err := checkChart(chartDir, v)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d objects decoded strictly: %s", len(objs), summary(objs))
			check, ok := checks[v.name]
			if !ok {
				t.Fatalf("variant %s has no checks in TestChartVariants: add what it is documented to give", v.name)
			}
			check(t, objs)
		})
	}
}

// TestPlainManifests checks that deploy/kubernetes/glb.yaml decodes
// strictly and is what the chart renders for its values.yaml.
func TestPlainManifests(t *testing.T) {
	objs, err := checkManifests(chartDir, manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d objects decoded strictly: %s", len(objs), summary(objs))
	find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbd")
	find[*appsv1.Deployment](t, objs, "Deployment", "glb-glbprobe-fra")
}

// copyDir copies a directory tree, following symbolic links, so that a
// test can change a copy of the chart.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p) // follows links
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// edit replaces old by new in a file, which must contain old.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownFieldsFail proves the check fails when a template or a plain
// manifest gains a field its Kubernetes type does not have, or a field
// twice, or an object of a kind it does not know.
func TestUnknownFieldsFail(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file      string // in the copy of deploy/ (helm/glb/... or kubernetes/...)
		old, new  string
		wantError string
	}{
		{"misspelt container field in a template", "helm/glb/templates/glbd.yaml",
			"          imagePullPolicy: {{ .Values.image.pullPolicy }}\n",
			"          imagePullPolicy: {{ .Values.image.pullPolicy }}\n          imagePullPolcy: Always\n",
			`unknown field "imagePullPolcy"`},
		{"field at the wrong level in a template", "helm/glb/templates/pdb.yaml",
			"  maxUnavailable:", "  replicas: 2\n  maxUnavailable:",
			`PodDisruptionBudget "glb-glbd": error unmarshaling JSON: while decoding JSON: json: unknown field "replicas"`},
		{"unknown field in a ServiceMonitor template", "helm/glb/templates/servicemonitor.yaml",
			"  jobLabel: app.kubernetes.io/component\n", "  jobLabel: app.kubernetes.io/component\n  scrapeEvery: 10s\n",
			`unknown field "scrapeEvery"`},
		{"duplicate field in a template", "helm/glb/templates/service.yaml",
			"  type: ClusterIP\n", "  type: ClusterIP\n  type: NodePort\n",
			`duplicate`},
		{"unknown field in a plain manifest", "kubernetes/glb.yaml",
			"      automountServiceAccountToken: false\n", "      automountServiceAccountToken: false\n      hostNetwrk: true\n",
			`unknown field "hostNetwrk"`},
		{"unknown kind in a plain manifest", "kubernetes/glb.yaml",
			"kind: ServiceAccount\n", "kind: ServiceAcount\n",
			`kind v1/ServiceAcount is not one k8scheck knows`},
		{"stale plain manifests", "kubernetes/values.yaml",
			"tag: v0.0.0-dev", "tag: v0.0.1",
			`is not what the chart renders`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, "../helm/glb", filepath.Join(dir, "helm/glb"))
			copyDir(t, "../kubernetes", filepath.Join(dir, "kubernetes"))
			edit(t, filepath.Join(dir, tc.file), tc.old, tc.new)
			var errs []string
			for _, r := range checkAll(filepath.Join(dir, "helm/glb"), filepath.Join(dir, "kubernetes")) {
				if r.err != nil {
					errs = append(errs, r.name+": "+r.err.Error())
				}
			}
			if len(errs) == 0 {
				t.Fatal("the check passed")
			}
			if all := strings.Join(errs, "\n"); !strings.Contains(all, tc.wantError) {
				t.Errorf("errors:\n%s\nwant one containing %q", all, tc.wantError)
			}
		})
	}
}
