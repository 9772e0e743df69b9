package ui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/relais-edu/relais"
)

// TestMessagesCoverUse checks that every key a page asks for has a text in every UI language: the keys
// the templates name ({{.T.key}}), those the Go code names (c.t("key"), h.withID("key", …)) and those
// made from a status (st_, ds_).
func TestMessagesCoverUse(t *testing.T) {
	used := map[string]string{}
	files, _ := filepath.Glob("../templates/web/ui_*.tmpl")
	goFiles, _ := filepath.Glob("*.go")
	if len(files) == 0 || len(goFiles) == 0 {
		t.Fatal("no templates or Go files found")
	}
	for _, re := range []struct {
		files []string
		re    *regexp.Regexp
	}{
		{files, regexp.MustCompile(`\bT\.(\w+)`)},
		{goFiles, regexp.MustCompile(`(?:\.t|withID)\("(\w+)"[,)]`)},
	} {
		for _, f := range re.files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range re.re.FindAllStringSubmatch(string(data), -1) {
				used[m[1]] = f
			}
		}
	}
	for _, st := range relais.DeliveryStatuses {
		used["ds_"+string(st)] = "relais.DeliveryStatuses"
	}
	for _, r := range []relais.Role{relais.RoleTeacher, relais.RoleMedia, relais.RoleAdmin} {
		used["role_"+string(r)] = "ui_layout.tmpl (the signed-in user's role)"
	}
	if len(used) < 100 {
		t.Fatalf("only %d keys found in use", len(used))
	}
	for key, where := range used {
		for _, lang := range uiLangs {
			if _, ok := messages[lang][key]; !ok {
				t.Errorf("%s uses %q, which i18n/%s.json lacks", where, key, lang)
			}
		}
	}
}

// TestLoadMessages checks that a table missing a key, or giving one twice, is refused.
func TestLoadMessages(t *testing.T) {
	tests := []struct {
		name, en, fr, err string
	}{
		{"complete", `{"a": "A", "b": "B"}`, `{"b": "Bé", "a": "À"}`, ""},
		{"a key missing in French", `{"a": "A", "b": "B"}`, `{"a": "À"}`, `i18n/fr.json lacks "b"`},
		{"a key missing in English", `{"a": "A"}`, `{"a": "À", "b": "B"}`, `i18n/en.json lacks "b"`},
		{"a key twice", `{"a": "A", "a": "B"}`, `{"a": "À"}`, `i18n/en.json: "a" given twice`},
		{"not strings", `{"a": 1}`, `{"a": "À"}`, `i18n/en.json: after "a"`},
		{"not an object", `["a"]`, `{"a": "À"}`, `i18n/en.json: not a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"i18n/en.json": {Data: []byte(tt.en)}, "i18n/fr.json": {Data: []byte(tt.fr)}}
			m, err := loadMessages(fsys, []string{"fr", "en"})
			if tt.err == "" {
				if err != nil || m["fr"]["a"] != "À" || m["en"]["b"] != "B" {
					t.Errorf("%v, %v", m, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}
