package deploy

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/proliferate/proliferate-linear/config"
	"github.com/proliferate/proliferate-linear/httpapi"
)

// manifests are the objects of deploy/kubernetes, decoded strictly.
type manifests struct {
	deployments  []appsv1.Deployment
	statefulSets []appsv1.StatefulSet
	services     []corev1.Service
	configMaps   []corev1.ConfigMap
	pdbs         []policyv1.PodDisruptionBudget
	ingresses    []networkingv1.Ingress
}

// strict decodes one YAML document into v the way the API server reads
// JSON: field names are case-sensitive, and an unknown or duplicate field
// is an error, so a misspelt or misplaced field fails here rather than
// being dropped. (sigs.k8s.io/yaml's own UnmarshalStrict goes through
// encoding/json, which matches names case-insensitively: "targetport"
// would pass.)
func strict(doc []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(doc) // refuses duplicate keys
	if err != nil {
		return err
	}
	strictErrs, err := k8sjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}

// documents splits a YAML stream on its "---" separators.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var m manifests
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range documents(b) {
			if err := m.add(doc); err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
			}
		}
	}
	return m
}

// add decodes doc by its apiVersion and kind into the matching API type.
func (m *manifests) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	decode := func(v any) error {
		if err := strict(doc, v); err != nil {
			return fmt.Errorf("%s %s: %w", tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		var v appsv1.Deployment
		m.deployments = append(m.deployments, v)
		return decode(&m.deployments[len(m.deployments)-1])
	case "apps/v1 StatefulSet":
		m.statefulSets = append(m.statefulSets, appsv1.StatefulSet{})
		return decode(&m.statefulSets[len(m.statefulSets)-1])
	case "v1 Service":
		m.services = append(m.services, corev1.Service{})
		return decode(&m.services[len(m.services)-1])
	case "v1 ConfigMap":
		m.configMaps = append(m.configMaps, corev1.ConfigMap{})
		return decode(&m.configMaps[len(m.configMaps)-1])
	case "policy/v1 PodDisruptionBudget":
		m.pdbs = append(m.pdbs, policyv1.PodDisruptionBudget{})
		return decode(&m.pdbs[len(m.pdbs)-1])
	case "networking.k8s.io/v1 Ingress":
		m.ingresses = append(m.ingresses, networkingv1.Ingress{})
		return decode(&m.ingresses[len(m.ingresses)-1])
	}
	return fmt.Errorf("unexpected %q %q: add it to the test", tm.APIVersion, tm.Kind)
}

func one[T any](t *testing.T, what string, items []T) T {
	t.Helper()
	if len(items) != 1 {
		t.Fatalf("%d %s, want 1", len(items), what)
	}
	return items[0]
}

// TestStrictDecodingRefusesUnknownFields: the decoder the manifests pass
// through does refuse a misspelt field, so passing means something.
func TestStrictDecodingRefusesUnknownFields(t *testing.T) {
	bad := []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	var d appsv1.Deployment
	if err := strict(bad, &d); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("strict decode of spec.replica = %v, want an unknown-field error", err)
	}
	var m manifests
	if err := m.add([]byte("apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80, targetport: 8080}]\n")); err == nil {
		t.Error("a Service with targetport (wrong case) decoded")
	}
}

// samples are valid values for the secrets the manifests mount, so the
// bot's own configuration loader can run over the manifests' environment.
var samples = map[string]string{
	"SLACK_BOT_TOKEN":            "xoxb-1111-2222-abcdefghijklmnop",
	"SLACK_APP_TOKEN":            "xapp-1-A111-2222-abcdefghijklmnop",
	"PROLIFERATE_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef",
	"DATABASE_URL":               "postgres://proliferate:pw@postgres:5432/proliferate?sslmode=disable",
	"ENCRYPTION_KEY":             base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
	"LINEAR_API_KEY":             "lin_api_0123456789abcdefghijklmnopqrstuvwxyz",
	"LINEAR_WEBHOOK_SECRET":      "lin_wh_0123456789abcdef",
	"API_TOKEN":                  "0123456789abcdef0123456789abcdef0123",
	"LINEAR_CLIENT_SECRET":       "0123456789abcdef",
	"SLACK_ALERT_CHANNEL":        "C0123ABCD",
	"LINEAR_DEFAULT_TEAM":        "ENG",
}

// checkSecretsAsFiles checks an environment against the bot's secrets:
// none is set as a value (in env or a ConfigMap), every NAME_FILE names a
// file below one of mounts, and the bot's own loader accepts the result
// for serve. file maps a NAME_FILE path to the secret's name.
func checkSecretsAsFiles(t *testing.T, env map[string]string, file func(p string) (string, bool)) {
	t.Helper()
	secrets := config.SecretVariables()
	for name := range env {
		if slices.Contains(secrets, name) {
			t.Errorf("%s is set as a value; a secret must come through %s_FILE", name, name)
		}
	}
	files := 0
	for name, p := range env {
		secret, ok := strings.CutSuffix(name, "_FILE")
		if !ok || !slices.Contains(secrets, secret) {
			continue
		}
		files++
		got, ok := file(p)
		if !ok {
			t.Errorf("%s = %q is not a file of the mounted secrets", name, p)
		} else if got != secret {
			t.Errorf("%s = %q names the secret %q", name, p, got)
		}
	}
	if files == 0 {
		t.Fatal("no secret is read from a file")
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, func(p string) ([]byte, error) {
		name, ok := file(p)
		v, have := samples[name]
		if !ok || !have {
			return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
		}
		return []byte(v + "\n"), nil
	})
	if err == nil {
		err = cfg.ValidateServe()
	}
	if err != nil {
		t.Errorf("the bot refuses this environment: %v", err)
	}
	if cfg.Database.Driver != config.DriverPostgres {
		t.Errorf("store = %v, want PostgreSQL (replicas share it)", cfg.Database.Driver)
	}
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	d := one(t, "Deployments", m.deployments)
	spec := d.Spec.Template.Spec
	c := one(t, "containers in the Deployment", spec.Containers)

	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %s, want 2", deref(d.Spec.Replicas))
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("the Deployment's selector %v does not match its pods' labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}

	// Probes: liveness /healthz, readiness /readyz (database and Socket
	// Mode), on the container's HTTP port.
	port := containerPort(t, c, "http")
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe is not an HTTP GET", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path = %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if pp := p.probe.HTTPGet.Port; pp.StrVal != "http" && int32(pp.IntValue()) != port {
			t.Errorf("%s probe port = %v, want the container's http port", p.name, pp.String())
		}
	}

	// Termination: the kubelet's preStop sleep (the image has no shell),
	// then SIGTERM; the grace period covers the binary's drain.
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Fatal("no preStop sleep: the distroless image cannot exec a sleep")
	}
	preStop := c.Lifecycle.PreStop.Sleep.Seconds
	const drain = 10 + 60 // HTTP shutdown + one Slack job (cmd: Run, bot: jobTimeout)
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g < preStop+drain {
		t.Errorf("terminationGracePeriodSeconds = %s, want ≥ %d (preStop %d s + drain %d s)", deref(g), preStop+drain, preStop, drain)
	}

	// Security: the distroless nonroot user, nothing writable but volumes.
	ps := spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 {
		t.Errorf("pod securityContext = %+v, want runAsNonRoot and user 65532 (distroless nonroot)", ps)
	}
	cs := c.SecurityContext
	if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem ||
		cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation ||
		cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") {
		t.Errorf("container securityContext = %+v, want a read-only root, no privilege escalation, all capabilities dropped", cs)
	}

	// Secrets: from the Secret volume through the _FILE twins only.
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			t.Errorf("envFrom a Secret (%s) puts secrets in the environment", ef.SecretRef.Name)
		}
		if ef.ConfigMapRef != nil {
			cm := configMap(t, m, ef.ConfigMapRef.Name)
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Errorf("%s comes from secretKeyRef: use the Secret volume and %s_FILE", e.Name, e.Name)
		}
		env[e.Name] = e.Value
	}
	mounts := secretMounts(spec, c)
	if len(mounts) == 0 {
		t.Fatal("no Secret volume is mounted")
	}
	checkSecretsAsFiles(t, env, func(p string) (string, bool) {
		for dir := range mounts {
			if path.Dir(p) == dir {
				return path.Base(p), true
			}
		}
		return "", false
	})

	// The PDB keeps one replica through voluntary disruptions and selects
	// exactly the Deployment's pods.
	pdb := one(t, "PodDisruptionBudgets", m.pdbs)
	if !sameSelector(pdb.Spec.Selector, d.Spec.Selector) {
		t.Errorf("PDB selector %v ≠ Deployment selector %v", pdb.Spec.Selector, d.Spec.Selector)
	}
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable = %v, want 1 of the 2 replicas", pdb.Spec.MinAvailable)
	}

	// The Service selects the pods and targets the http port.
	svc := service(t, m, "proliferate-linear")
	if !labelsMatch(svc.Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, d.Spec.Template.Labels)
	}
	svcPort := one(t, "Service ports", svc.Spec.Ports)
	if tp := svcPort.TargetPort; tp.StrVal != "http" && int32(tp.IntValue()) != port {
		t.Errorf("Service targetPort = %s, want the container's http port", tp.String())
	}

	checkIngress(t, one(t, "Ingresses", m.ingresses), svc)
	checkPostgres(t, m, env)
}

// The routes the outside world calls, and some it must not reach.
var (
	publicRoutes = []string{"/api/v1/alerts", "/webhooks/linear",
		httpapi.ConnectPath, httpapi.CallbackPath, httpapi.ConfirmPath, httpapi.CancelPath}
	privateRoutes = []string{"/healthz", "/readyz", "/metrics", "/api/v1/errors/prl_1/links",
		"/api/v1/integrations/linear/test", "/api/v1/integrations/linear/teams",
		"/api/v1/integrations/linear/teams/t1/members", "/api/v1/integrations/linear/issues",
		"/api/v1/integrations/linear/disconnect", "/api/v1/alertsX", "/"}
)

// ingressMatches applies Kubernetes' path matching: Exact is equality,
// Prefix matches whole path elements.
func ingressMatches(p networkingv1.HTTPIngressPath, route string) bool {
	switch *p.PathType {
	case networkingv1.PathTypeExact:
		return route == p.Path
	case networkingv1.PathTypePrefix:
		prefix := strings.TrimSuffix(p.Path, "/")
		return route == prefix || strings.HasPrefix(route, prefix+"/") || prefix == ""
	}
	return true // ImplementationSpecific: may match anything
}

func checkIngress(t *testing.T, ing networkingv1.Ingress, svc corev1.Service) {
	t.Helper()
	var paths []networkingv1.HTTPIngressPath
	for _, r := range ing.Spec.Rules {
		if r.HTTP != nil {
			paths = append(paths, r.HTTP.Paths...)
		}
	}
	if ing.Spec.DefaultBackend != nil {
		t.Error("the Ingress has a default backend: every route would be public")
	}
	for _, p := range paths {
		if p.PathType == nil || *p.PathType == networkingv1.PathTypeImplementationSpecific {
			t.Errorf("path %s: pathType must be Exact or Prefix", p.Path)
			continue
		}
		b := p.Backend.Service
		if b == nil || b.Name != svc.Name || (b.Port.Name != svc.Spec.Ports[0].Name && b.Port.Number != svc.Spec.Ports[0].Port) {
			t.Errorf("path %s goes to %+v, want the Service %s's port", p.Path, b, svc.Name)
		}
	}
	matched := func(route string) bool {
		return slices.ContainsFunc(paths, func(p networkingv1.HTTPIngressPath) bool { return p.PathType != nil && ingressMatches(p, route) })
	}
	for _, r := range publicRoutes {
		if !matched(r) {
			t.Errorf("public route %s is not routed by the Ingress", r)
		}
	}
	for _, r := range privateRoutes {
		if matched(r) {
			t.Errorf("internal route %s is exposed by the Ingress", r)
		}
	}
}

// checkPostgres: the database to try it on is the one DATABASE_URL names
// in the samples' shape (host "postgres"), its password is a file too.
func checkPostgres(t *testing.T, m manifests, botEnv map[string]string) {
	t.Helper()
	ss := one(t, "StatefulSets", m.statefulSets)
	svc := service(t, m, "postgres")
	if !labelsMatch(svc.Spec.Selector, ss.Spec.Template.Labels) {
		t.Errorf("postgres Service selector %v does not select the StatefulSet's pods %v", svc.Spec.Selector, ss.Spec.Template.Labels)
	}
	if !strings.Contains(samples["DATABASE_URL"], "@"+svc.Name+":"+fmt.Sprint(svc.Spec.Ports[0].Port)+"/") {
		t.Errorf("the Service %s:%d is not where DATABASE_URL points", svc.Name, svc.Spec.Ports[0].Port)
	}
	c := one(t, "postgres containers", ss.Spec.Template.Spec.Containers)
	for _, e := range c.Env {
		if e.Name == "POSTGRES_PASSWORD" {
			t.Error("POSTGRES_PASSWORD is set as a value; use POSTGRES_PASSWORD_FILE")
		}
	}
	if cs := c.SecurityContext; cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		t.Error("postgres container without a read-only root filesystem")
	}
	if len(ss.Spec.VolumeClaimTemplates) == 0 {
		t.Error("postgres keeps its data in no volume claim")
	}
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %q", c.Name, name)
	return 0
}

func configMap(t *testing.T, m manifests, name string) corev1.ConfigMap {
	t.Helper()
	for _, cm := range m.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	t.Fatalf("no ConfigMap %s", name)
	return corev1.ConfigMap{}
}

func service(t *testing.T, m manifests, name string) corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %s", name)
	return corev1.Service{}
}

// secretMounts maps each mount directory of a Secret volume to its Secret.
func secretMounts(spec corev1.PodSpec, c corev1.Container) map[string]string {
	secretVols := map[string]string{}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			secretVols[v.Name] = v.Secret.SecretName
		}
	}
	out := map[string]string{}
	for _, vm := range c.VolumeMounts {
		if s, ok := secretVols[vm.Name]; ok {
			out[path.Clean(vm.MountPath)] = s
		}
	}
	return out
}

func labelsMatch(selector, podLabels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if podLabels[k] != v {
			return false
		}
	}
	return true
}

func sameSelector(a, b *metav1.LabelSelector) bool {
	if a == nil || b == nil {
		return false
	}
	sa, err1 := metav1.LabelSelectorAsSelector(a)
	sb, err2 := metav1.LabelSelectorAsSelector(b)
	return err1 == nil && err2 == nil && sa.String() == sb.String()
}

// deref prints a pointer's value, or "unset".
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}
