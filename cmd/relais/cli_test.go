package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// commandPaths lists every command of the table under c, groups and leaves, as their names.
func commandPaths(c command, path []string) [][]string {
	var out [][]string
	for _, sub := range c.subs {
		p := append(append([]string(nil), path...), sub.name)
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// servers are the commands that take the whole configuration: their help lists every setting.
var servers = map[string]bool{"serve": true, "api": true, "worker": true, "demo": true}

// TestHelpOfEveryCommand: every command's --help goes to standard output with status 0; a command
// lists its own flags only (no SMTP or Twilio settings but on the servers); and the help of each
// command other than the servers is as testdata/help/ keeps it (-update rewrites it).
func TestHelpOfEveryCommand(t *testing.T) {
	paths := commandPaths(root(), nil)
	if len(paths) < 30 {
		t.Fatalf("%d commands found", len(paths))
	}
	for _, p := range paths {
		name := strings.Join(p, " ")
		t.Run(name, func(t *testing.T) {
			out, errOut, status := cli(t, append(p, "--help")...)
			if status != 0 || errOut != "" || !strings.Contains(out, "Usage: relais "+p[0]) {
				t.Fatalf("status %d, stdout %q, stderr %q; want the usage on stdout and status 0", status, out, errOut)
			}
			if servers[p[0]] {
				return
			}
			for _, other := range []string{"-smtp-", "-twilio-", "-redis-", "-sms-quiet"} {
				if strings.Contains(out, "\n  "+other) {
					t.Errorf("the help lists %s flags that are not the command's:\n%s", other, out)
				}
			}
			golden(t, filepath.Join("help", strings.Join(p, "-")+".golden"), out)
		})
	}
}

// TestCompletion checks the completion scripts against testdata (-update rewrites them) and runs them
// in their shells: bash and fish complete commands, subcommands and a command's own flags; zsh loads
// the script through bashcompinit and registers it.
func TestCompletion(t *testing.T) {
	scripts := map[string]string{}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, errOut, status := cli(t, "completion", shell)
		if status != 0 || errOut != "" {
			t.Fatalf("completion %s: status %d, %s", shell, status, errOut)
		}
		golden(t, "completion."+shell, out)
		path := filepath.Join(t.TempDir(), "relais."+shell)
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		scripts[shell] = path
	}
	if _, errOut, status := cli(t, "completion", "tcsh"); status != 2 || !strings.Contains(errOut, "Usage: relais completion bash|zsh|fish") {
		t.Errorf("completion tcsh: status %d, stderr %q; want 2 and the usage", status, errOut)
	}
	tests := []struct{ line, want string }{
		{"relais gr", "grid"},
		{"relais grid f", "fill"},
		{"relais grid fill --st", "--station"},
		{"relais grid fill --station 1 --re", "--reruns"},
		{"relais station create --n", "--name"},
		{"relais token create --r", "--role"},
		{"relais completion f", "fish"},
	}
	shell := func(name string, args ...string) string {
		t.Helper()
		exe, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s not found (%v): scripts/test.sh installs it", name, err)
		}
		out, err := exec.CommandContext(context.Background(), exe, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tt := range tests {
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		bashWords := "'" + strings.Join(words, "' '") + "'"
		got := shell("bash", "-c", "source "+scripts["bash"]+"; COMP_WORDS=("+bashWords+"); COMP_CWORD="+itoa(len(words)-1)+`; _relais; echo "${COMPREPLY[*]}"`)
		if got != tt.want {
			t.Errorf("bash %q completes to %q, want %q", tt.line, got, tt.want)
		}
		got = shell("fish", "-c", "source "+scripts["fish"]+"; complete -C'"+tt.line+"'")
		var names []string
		for _, l := range strings.Split(got, "\n") {
			name, _, _ := strings.Cut(l, "\t")
			names = append(names, name)
		}
		if strings.Join(names, " ") != tt.want {
			t.Errorf("fish %q completes to %q, want %q", tt.line, got, tt.want)
		}
	}
	if got := shell("zsh", "-c", "autoload -U compinit && compinit -u && source "+scripts["zsh"]+` && print -r -- "$_comps[relais]"`); got != "_bash_complete -o default -F _relais" {
		t.Errorf("zsh registers %q for relais", got)
	}
}

// TestTokenCreateOutput: the token alone for people, JSON with --json; and a database command reads only
// the database settings, so a server setting it does not use, even a wrong one, does not stop it.
func TestTokenCreateOutput(t *testing.T) {
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir(), "RELAIS_SMTP_TLS": "bogus", "RELAIS_TWILIO_ACCOUNT_SID": "AC1"}
	out, errOut, err := runCLI(env, "token", "create", "--user", "durand", "--role", "teacher")
	if err != nil || !regexp.MustCompile(`^rl_[A-Za-z0-9_-]{32}\n$`).MatchString(out) {
		t.Errorf("token create: %v, stdout %q, stderr %q; want the token alone", err, out, errOut)
	}
	out, _, err = runCLI(env, "token", "create", "--json", "--user", "media", "--role", "media")
	var got struct{ User, Role, Token string }
	if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.User != "media" || got.Role != "media" || !strings.HasPrefix(got.Token, "rl_") {
		t.Errorf("token create --json: %v, %q", err, out)
	}
	// The server commands still check every setting.
	if _, _, err := runCLI(env, "serve"); err == nil || !strings.Contains(err.Error(), "RELAIS_TWILIO_ACCOUNT_SID is set") {
		t.Errorf("serve with RELAIS_TWILIO_ACCOUNT_SID alone: %v, want a configuration error naming it", err)
	}
}
