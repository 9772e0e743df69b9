package relais_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/relais-edu/relais"

// layerRules says, for packages under a prefix of the module, which packages they must not import. The layers, from the bottom: the root package's domain types; locale; stores; services
// (scheduler, fanout, channels, queue, ...); surfaces (api, ui); the binary. Only the media child process
// (ingest) and the binary that drives it link the cgo FFmpeg binding.
var layerRules = []struct {
	pkg       string   // a package, a prefix ending in "/" for every package below it, or "*" for all
	forbidden []string // packages (with those below them), or "*" for every package of Relais
	why       string
	except    []string // packages the rule does not apply to
}{
	{"*", []string{"cmd"}, "nothing depends on the binary", nil},
	{"*", []string{"pipeline"}, "the lesson steps that drive the media child are wired by the binary only (and timed by the media-on-S3 bench)",
		[]string{"cmd/relais", "scripts/benchs3"}},
	{"", []string{"*"}, "the domain types depend on nothing of Relais", nil},
	{"store/", []string{"scheduler", "queue", "fanout", "channels", "api", "ui", "ingest", "worksheet", "roster", "cmd"},
		"a store depends on the domain types only", nil},
	{"store/internal/sqlstore", []string{"store/sqlite", "store/postgres", "store/storetest"},
		"the half both SQL stores share knows neither engine: each engine lends it an Engine", nil},
	{"mediastore", []string{"scheduler", "queue", "fanout", "channels", "lessons", "api", "ui", "ingest", "worksheet", "roster", "store", "cmd"},
		"the media stores depend on the domain types only", nil},
	{"resumable", []string{"scheduler", "queue", "fanout", "channels", "lessons", "api", "ui", "ingest", "worksheet", "roster", "store", "cmd"},
		"the shared upload store depends on the media store only", nil},
	{"scheduler", []string{"ingest", "queue", "api", "ui", "store", "channels/sms", "channels/email", "channels/postal"},
		"the scheduler is a service: no media, no surface, no store engine", nil},
	{"fanout", []string{"ingest", "queue", "api", "ui", "store"}, "fan-out rules are a service", nil},
	{"queue", []string{"ingest", "api", "ui", "store"}, "the queue drives services, not surfaces or engines", nil},
	{"channels/", []string{"ingest", "queue", "api", "ui", "store", "scheduler"}, "a channel knows its provider, not the rest", nil},
	{"lessons", []string{"ingest", "api", "ui", "store", "queue", "channels/sms", "channels/email"},
		"the lesson service runs on the store and queue interfaces", nil},
	{"client", []string{"ingest", "ui", "store", "queue"}, "the API client speaks HTTP only", nil},
	{"tokens", []string{"ingest", "api", "ui", "store", "queue", "channels", "cmd"}, "the token service runs on the store interface", nil},
	{"audit", []string{"ingest", "api", "ui", "store", "queue", "channels", "cmd"}, "the audit log runs on the store interface", nil},
	{"clients", []string{"*"}, "client addresses and rate limits are plain HTTP", nil},
	{"phone", []string{"locale", "store", "scheduler", "queue", "fanout", "channels", "lessons", "api", "ui", "ingest",
		"worksheet", "roster", "cmd"}, "phone numbers are read with the domain types only", nil},
	{"internal/tick", []string{"*"}, "the periodic helper is plain Go", nil},
	{"retention", []string{"ingest", "api", "ui", "store", "queue", "channels", "scheduler", "cmd"},
		"retention runs on the store and media store interfaces", nil},
	{"api", []string{"ingest", "ui", "store", "channels/sms", "channels/email", "channels/postal", "cmd"},
		"the API reaches services, not engines or channel internals", nil},
	{"ui", []string{"ingest", "api", "store", "channels/sms", "channels/email", "channels/postal", "cmd"},
		"the pages reach the same services as the API, not the API over HTTP", nil},
}

// astiavFree lists the packages that must not link go-astiav.
var astiavFree = []string{"", "api", "ui", "store/", "scheduler", "fanout", "queue", "channels/", "roster", "phone", "links",
	"worksheet", "templates", "locale", "tokens", "audit", "clients", "retention", "internal/tick", "api/apiclient"}

// TestLayers reads the import graph with go list and fails on an edge from a lower layer to a higher
// one, and on a package that links go-astiav through any path.
func TestLayers(t *testing.T) {
	imports, deps := goList(t, "Imports"), goList(t, "Deps")
	for _, r := range layerRules {
		for pkg, ds := range imports {
			if !under(pkg, r.pkg) || slices.Contains(r.except, pkg) {
				continue
			}
			for _, d := range ds {
				if !strings.HasPrefix(d, module) {
					continue
				}
				for _, f := range r.forbidden {
					if dep := rel(d); f == "*" || dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s: %s", show(pkg), dep, r.why)
					}
				}
			}
		}
	}
	for pkg, ds := range deps {
		for _, free := range astiavFree {
			if !under(pkg, free) {
				continue
			}
			for _, d := range ds {
				if strings.HasPrefix(d, "github.com/asticode/go-astiav") {
					t.Errorf("%s links %s: only the media child process (ingest) and the binary may", show(pkg), d)
				}
			}
		}
	}
}

// goList returns, for each package of the module, its relative path and the full import paths of a
// field of go list's: Imports (the edges) or Deps (everything linked).
func goList(t *testing.T, field string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .`+field+` " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		m[rel(f[0])] = f[1:]
	}
	if len(m) < 10 {
		t.Fatalf("go list found only %d packages", len(m))
	}
	return m
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func show(pkg string) string {
	if pkg == "" {
		return "relais (root)"
	}
	return pkg
}

// under reports whether pkg is the package p or, when p ends in "/", below it; "*" holds every package.
func under(pkg, p string) bool {
	if p == "*" {
		return true
	}
	if strings.HasSuffix(p, "/") {
		return strings.HasPrefix(pkg, p)
	}
	return pkg == p
}

// TestReadmeNamesEveryPackage keeps README's package table in step with the tree: every package of the
// module has a row (the test and bench support under internal/ shares the `internal/...` row; scripts/
// are commands of the bench scripts), and every row names a package that exists.
func TestReadmeNamesEveryPackage(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	inTable := false
	for line := range strings.Lines(string(readme)) {
		switch {
		case strings.HasPrefix(line, "| Package |"):
			inTable = true
		case inTable && !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable:
			cell := strings.TrimSpace(strings.Split(line, "|")[1])
			if name, ok := strings.CutPrefix(cell, "`"); ok {
				named[strings.TrimSuffix(strings.Fields(name)[0], "`")] = true
			}
		}
	}
	if !named["relais"] || !named["internal/..."] {
		t.Fatalf("README's package table not found or without its relais and internal/... rows: %v", named)
	}
	pkgs := goList(t, "Imports")
	for pkg := range pkgs {
		if pkg == "" || strings.HasPrefix(pkg, "internal/") || strings.HasPrefix(pkg, "scripts/") {
			continue
		}
		if !named[pkg] {
			t.Errorf("README's package table has no row for %s", pkg)
		}
	}
	for name := range named {
		if _, ok := pkgs[name]; !ok && name != "relais" && name != "internal/..." {
			t.Errorf("README's package table names %s, which is not a package of the module", name)
		}
	}
}
