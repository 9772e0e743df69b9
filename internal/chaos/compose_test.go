package chaos

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of deploy/compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// readmeSettings returns the RELAIS_* variables of the README's configuration table (which
// TestREADMEDocumentsEverySetting in cmd/relais keeps complete).
func readmeSettings(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(RELAIS_[A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = true
	}
	if len(out) < 50 {
		t.Fatalf("found %d settings in the README's table: has its format changed?", len(out))
	}
	return out
}

// names returns the variable names of env, sorted.
func names(env []string) []string {
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestComposeFile keeps deploy/compose.yaml in step with the cluster test and the configuration: it has
// the services of the cluster (PostgreSQL, Redis with a replica and three sentinels, the S3 server,
// mailpit, two API and two worker processes), every RELAIS_* it sets is a real setting, and each API and
// worker service sets every variable TestCluster gives its API and worker processes.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	for _, s := range []string{"postgres", "redis-master", "redis-replica", "sentinel1", "sentinel2", "sentinel3", "s3", "mailpit", "twilio-sandbox", "front"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("no %s service", s)
		}
	}

	settings := readmeSettings(t)
	byCommand := map[string][]string{}
	for name, s := range c.Services {
		for k := range s.Environment {
			if strings.HasPrefix(k, "RELAIS_") && !settings[k] {
				t.Errorf("service %s sets %s, which is no setting of the README's configuration table", name, k)
			}
		}
		if len(s.Command) > 0 && s.Image == "relais:local" {
			byCommand[s.Command[0]] = append(byCommand[s.Command[0]], name)
		}
	}
	if n := len(byCommand["api"]); n < 2 {
		t.Errorf("%d services run relais api, want 2", n)
	}
	if n := len(byCommand["worker"]); n < 2 {
		t.Errorf("%d services run relais worker, want 2", n)
	}

	// What TestCluster gives its processes (the values are the test's; the names must be here).
	o := clusterOptions("relais", 1, clusterEnv("postgres://db/relais", "redis-sentinel://s1:26379/0?master=relais",
		"http://s3:7070", "key", "secret", "bucket"), nil)
	env := o.relaisEnv("http://front", "http://twilio-sandbox", "1025", "")
	want := map[string][]string{"api": names(processEnv(env, "/data", "127.0.0.1:8080")), "worker": names(processEnv(env, "/data", ""))}
	for cmd, vars := range want {
		for _, v := range vars {
			if !settings[v] {
				t.Errorf("the cluster test sets %s, which is no setting of the README's configuration table", v)
			}
		}
		for _, svc := range byCommand[cmd] {
			for _, v := range vars {
				if _, ok := c.Services[svc].Environment[v]; !ok {
					t.Errorf("service %s (relais %s) lacks %s, which the cluster test sets", svc, cmd, v)
				}
			}
		}
	}
	for _, v := range []string{"RELAIS_REDIS_URL", "RELAIS_MEDIA_URL", "RELAIS_DATABASE_URL"} {
		for _, svc := range append(byCommand["api"], byCommand["worker"]...) {
			if c.Services[svc].Environment[v] == "" {
				t.Errorf("service %s has no %s: machines without a shared disk need it", svc, v)
			}
		}
	}
}
