package api

import (
	"bufio"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOpenAPIMatchesRoutes keeps docs/openapi.yaml and the server's routes in step: every route is
// documented, and every documented route under /api, /l, /livez and /readyz exists.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f, err := os.Open("../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathRe := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodRe := regexp.MustCompile(`^    (get|head|post|put|patch|delete):`)
	var documented []string
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := pathRe.FindStringSubmatch(sc.Text()); m != nil {
			cur = m[1]
		} else if m := methodRe.FindStringSubmatch(sc.Text()); m != nil && cur != "" {
			documented = append(documented, strings.ToUpper(m[1])+" "+cur)
		} else if !strings.HasPrefix(sc.Text(), " ") {
			cur = ""
		}
	}
	var ours []string
	for _, d := range documented {
		// Handlers mounted from the channel packages have their own tests.
		if !strings.Contains(d, " /webhooks/") && !strings.Contains(d, " /u/") {
			ours = append(ours, d)
		}
	}
	s := New(nil, nil, nil, nil, DefaultConfig(), slog.New(slog.DiscardHandler), nil)
	routes := s.Routes()
	sort.Strings(ours)
	sort.Strings(routes)
	if diff := cmp.Diff(routes, ours); diff != "" {
		t.Errorf("docs/openapi.yaml paths (-routes +documented):\n%s", diff)
	}
}

// TestOpenAPILint runs Redocly's linter (pinned in docs/lint, installed by scripts/test.sh) with its
// recommended rules on docs/openapi.yaml: no error and no warning.
func TestOpenAPILint(t *testing.T) {
	bin := filepath.Join("..", "docs", "lint", "node_modules", ".bin", "redocly")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Redocly's linter is not installed (%v): run scripts/test.sh, or npm ci --prefix docs/lint", err)
	}
	out, err := exec.Command(bin, "lint", "--format=summary", "--config", filepath.Join("..", "docs", "lint", "redocly.yaml"),
		filepath.Join("..", "docs", "openapi.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("redocly lint: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Your API description is valid") || regexp.MustCompile(`(?m)^warning `).Match(out) {
		t.Errorf("redocly lint is not clean:\n%s", out)
	}
}
