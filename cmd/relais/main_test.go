package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/relais-edu/relais/ingest"
	"github.com/relais-edu/relais/internal/testenv"
)

// TestMain lets the test binary serve as the worker's media child, as the relais binary does.
func TestMain(m *testing.M) {
	if ingest.IsChild() {
		os.Exit(ingest.ChildMain())
	}
	os.Exit(testenv.Main(m))
}

// runCLI runs relais with args in the environment env (RELAIS_* variables) and returns what it wrote
// to stdout and stderr and what run returned.
func runCLI(env map[string]string, args ...string) (stdout, stderr string, err error) {
	var out, errOut strings.Builder
	err = run(context.Background(), args, &stdio{in: strings.NewReader(""), out: &out, err: &errOut,
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	return out.String(), errOut.String(), err
}

// cli runs relais with args, with no environment, and returns what it wrote and its exit status.
func cli(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	stdout, stderr, err := runCLI(nil, args...)
	var errOut strings.Builder
	status = exitCode(err, &errOut)
	return stdout, stderr + errOut.String(), status
}

// TestHelpGoesToStdout: help asked for goes to standard output with status 0, at every level.
func TestHelpGoesToStdout(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--help"}, "Usage: relais COMMAND [flags]"},
		{[]string{"-h"}, "  grid             build station grids"},
		{[]string{"help"}, "Run 'relais COMMAND --help'"},
		{[]string{"help", "grid"}, "Usage: relais grid template --station ID"},
		{[]string{"help", "grid", "fill"}, "Usage: relais grid fill --from DAY"},
		{[]string{"lesson", "--help"}, "Usage: relais lesson upload FILE"},
		{[]string{"sms", "help"}, "Usage: relais sms count|digest"},
		{[]string{"token", "-h"}, "Usage: relais token COMMAND"},
		{[]string{"lesson", "upload", "--help"}, "-resume-attempts int"},
		{[]string{"station", "create", "-h"}, "Creates a station and says so with its id"},
		{[]string{"serve", "--help"}, "RELAIS_SMS_RATE"},
		{[]string{"version", "--help"}, "Prints the version of relais."},
		{[]string{"sms", "count", "-help"}, "-smart"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, status := cli(t, tt.args...)
			if status != 0 || errOut != "" || !strings.Contains(out, tt.want) {
				t.Errorf("status %d, stdout %q, stderr %q; want status 0, %q on stdout and nothing on stderr", status, out, errOut, tt.want)
			}
		})
	}
}

// TestUsageErrorsGoToStderr: a command missing or unknown, or a bad flag, is said on standard error
// with status 2, and nothing goes to standard output.
func TestUsageErrorsGoToStderr(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"Usage: relais COMMAND [flags]"}},
		{[]string{"nope"}, []string{"Usage: relais COMMAND [flags]", `relais: unknown command "nope"`}},
		{[]string{"grid"}, []string{"Usage: relais grid template"}},
		{[]string{"grid", "nope"}, []string{"Usage: relais grid template", `relais: grid: unknown subcommand "nope"`}},
		{[]string{"lesson", "upload", "--bogus"}, []string{"flag provided but not defined: -bogus", "Usage: relais lesson upload FILE"}},
		{[]string{"sms", "count", "extra"}, []string{"Usage: relais sms count"}},
		{[]string{"serve", "--sms-rate", "fast"}, []string{`invalid value "fast" for flag -sms-rate: not a number`}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, status := cli(t, tt.args...)
			if status != 2 || out != "" {
				t.Errorf("status %d, stdout %q; want 2 and nothing", status, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestClassesCommand: an admin links a teacher to classes from the command line, and a new set replaces
// the old one.
func TestClassesCommand(t *testing.T) {
	env := map[string]string{"RELAIS_DATA_DIR": t.TempDir()}
	out, errOut, err := runCLI(env, "classes", "set", "--user", "t1", "--classes", "S1-5B, S1-5A")
	if err != nil || out != "S1-5A\nS1-5B\n" {
		t.Fatalf("classes set = %q, %v\n%s", out, err, errOut)
	}
	if _, _, err := runCLI(env, "classes", "set", "--user", "t1", "--classes", "a:b"); err == nil {
		t.Error("a class code with a separator was taken")
	}
	if _, _, err := runCLI(env, "classes", "set", "--user", "t1", "--classes", "S2-6A"); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCLI(env, "classes", "list", "--user", "t1"); err != nil || out != "S2-6A\n" {
		t.Errorf("classes list = %q, %v", out, err)
	}
}
