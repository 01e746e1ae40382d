package deploy

import (
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// composeFile is the part of the Compose specification
// (https://github.com/compose-spec/compose-spec/blob/main/spec.md) that
// compose.yaml uses. Decoded strictly, a field outside it (a typo, or a
// new field nobody checked) fails the test.
type composeFile struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Secrets  map[string]composeSecret  `json:"secrets"`
	Volumes  map[string]struct{}       `json:"volumes"`
}

type composeService struct {
	Image           string                      `json:"image"`
	Build           string                      `json:"build"`
	Command         []string                    `json:"command"`
	DependsOn       map[string]composeDependsOn `json:"depends_on"`
	Ports           []string                    `json:"ports"`
	Environment     map[string]string           `json:"environment"`
	Secrets         []string                    `json:"secrets"`
	Volumes         []string                    `json:"volumes"`
	User            string                      `json:"user"`
	ReadOnly        bool                        `json:"read_only"`
	SecurityOpt     []string                    `json:"security_opt"`
	CapDrop         []string                    `json:"cap_drop"`
	StopGracePeriod string                      `json:"stop_grace_period"`
	Restart         string                      `json:"restart"`
	Healthcheck     *composeHealthcheck         `json:"healthcheck"`
}

type composeDependsOn struct {
	Condition string `json:"condition"`
}

type composeHealthcheck struct {
	Test     []string `json:"test"`
	Interval string   `json:"interval"`
	Timeout  string   `json:"timeout"`
	Retries  int      `json:"retries"`
}

type composeSecret struct {
	File string `json:"file"`
}

// interpolation is Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}.
var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves the variables as Compose would with env set.
func interpolate(t *testing.T, s string, env map[string]string) string {
	t.Helper()
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		v, ok := env[g[1]]
		switch {
		case ok:
			return v
		case strings.HasSuffix(g[2], "?"):
			t.Errorf("%s is required by compose.yaml (%s) and has no sample", g[1], g[3])
		}
		return g[3]
	})
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := strict(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

func TestComposeStrict(t *testing.T) {
	var f composeFile
	if err := strict([]byte("services:\n  bot:\n    read-only: true\n"), &f); err == nil {
		t.Error("an unknown service field (read-only for read_only) decoded")
	}
}

func TestCompose(t *testing.T) {
	f := loadCompose(t)
	if keys := mapKeys(f.Services); !slices.Equal(keys, []string{"bot", "postgres"}) {
		t.Fatalf("services = %v, want bot and postgres", keys)
	}
	bot, pg := f.Services["bot"], f.Services["postgres"]

	// The bot starts once PostgreSQL answers, and is the distroless image
	// run as it is built: nonroot, read-only, no capabilities.
	if bot.Build != "." {
		t.Errorf("bot build = %q, want the repository's Dockerfile (.)", bot.Build)
	}
	if bot.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("bot depends_on = %+v, want postgres service_healthy", bot.DependsOn)
	}
	if pg.Healthcheck == nil || !slices.Contains(pg.Healthcheck.Test, "pg_isready") {
		t.Errorf("postgres healthcheck = %+v, want pg_isready (service_healthy needs one)", pg.Healthcheck)
	}
	if bot.User != "65532:65532" || !bot.ReadOnly || !slices.Contains(bot.CapDrop, "ALL") {
		t.Errorf("bot user %q read_only %v cap_drop %v, want 65532:65532, true, ALL", bot.User, bot.ReadOnly, bot.CapDrop)
	}
	if !slices.Contains(bot.Ports, "8080:8080") {
		t.Errorf("bot ports = %v, want 8080:8080 (HTTP_ADDR's default)", bot.Ports)
	}
	if g, err := time.ParseDuration(bot.StopGracePeriod); err != nil || g < 75*time.Second {
		t.Errorf("stop_grace_period = %q, want ≥ 75s (HTTP drain + one Slack job)", bot.StopGracePeriod)
	}

	// Secrets: Compose file secrets, mounted at /run/secrets/<name>, read
	// through the _FILE twins; the secret's name is the variable's, lower case.
	for _, s := range append(slices.Clone(bot.Secrets), pg.Secrets...) {
		def, ok := f.Secrets[s]
		if !ok || !strings.HasPrefix(def.File, "./secrets/") {
			t.Errorf("secret %s = %+v, want a file under ./secrets/ (gitignored)", s, def)
		}
	}
	env := map[string]string{}
	for k, v := range bot.Environment {
		env[k] = interpolate(t, v, samples)
	}
	checkSecretsAsFiles(t, env, func(p string) (string, bool) {
		name := path.Base(p)
		if path.Dir(p) != "/run/secrets" || !slices.Contains(bot.Secrets, name) {
			return "", false
		}
		return strings.ToUpper(name), true
	})
	if !strings.Contains(samples["DATABASE_URL"], "@postgres:5432/") {
		t.Error("the sample DATABASE_URL does not name the postgres service")
	}

	if _, ok := pg.Environment["POSTGRES_PASSWORD"]; ok {
		t.Error("POSTGRES_PASSWORD is set as a value; use POSTGRES_PASSWORD_FILE")
	}
	if p := pg.Environment["POSTGRES_PASSWORD_FILE"]; !strings.HasPrefix(p, "/run/secrets/") || !slices.Contains(pg.Secrets, path.Base(p)) {
		t.Errorf("POSTGRES_PASSWORD_FILE = %q is not one of postgres's secrets %v", p, pg.Secrets)
	}
}

func mapKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
