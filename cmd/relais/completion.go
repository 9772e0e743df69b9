package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

const completionUsage = `Usage: relais completion bash|zsh|fish

Prints a completion script for the shell, made from relais's own table of commands and their flags:
  bash:  source <(relais completion bash)        (or save it in /etc/bash_completion.d/relais)
  zsh:   relais completion zsh > "${fpath[1]}/_relais"
  fish:  relais completion fish > ~/.config/fish/completions/relais.fish
`

func cmdCompletion(ctx context.Context, io *stdio, args []string) error {
	fs := newFlagSet(io, "completion", "completion bash|zsh|fish", strings.TrimSuffix(strings.SplitN(completionUsage, "\n\n", 2)[1], "\n"))
	shell, err := parseOneArg(fs, args)
	if err != nil {
		return err
	}
	cmds := completions(ctx, root(), nil)
	switch shell {
	case "bash":
		writeBash(io.out, cmds)
	case "zsh":
		fmt.Fprintf(io.out, "#compdef relais\n# zsh completion for relais, made by 'relais completion zsh'.\n\nautoload -U +X bashcompinit && bashcompinit\n\n")
		writeBash(io.out, cmds)
	case "fish":
		writeFish(io.out, cmds)
	default:
		fs.Usage()
		return exitError(2)
	}
	return nil
}

// completable is one command of the table, as completion sees it: its path of names, its summary, the
// names of its subcommands, and its flags.
type completable struct {
	path    []string // "grid", "fill"; empty for relais itself
	summary string
	subs    []completable
	flags   []*flag.Flag
}

// completions walks the command table under c. A command's flags are those it defines before parsing:
// each is run with --help, with its output discarded and its flag set collected.
func completions(ctx context.Context, c command, path []string) completable {
	out := completable{path: path, summary: c.summary}
	for _, sub := range c.subs {
		if sub.name == "completion" && len(path) == 0 {
			out.subs = append(out.subs, completable{path: []string{"completion"}, summary: sub.summary})
			continue
		}
		out.subs = append(out.subs, completions(ctx, sub, append(slices.Clip(path), sub.name)))
	}
	if c.run != nil {
		var sets []*flag.FlagSet
		err := c.run(ctx, &stdio{in: strings.NewReader(""), out: io.Discard, err: io.Discard, lookupEnv: func(string) (string, bool) { return "", false }, flagSets: &sets}, []string{"--help"})
		var ee exitError
		if errors.As(err, &ee) && ee == 0 && len(sets) > 0 {
			sets[len(sets)-1].VisitAll(func(f *flag.Flag) { out.flags = append(out.flags, f) })
		}
	}
	return out
}

// all lists c and every command under it, depth first.
func (c completable) all() []completable {
	out := []completable{c}
	for _, s := range c.subs {
		out = append(out, s.all()...)
	}
	return out
}

// words are what may follow c on the command line: its subcommands, else its flags.
func (c completable) words() []string {
	var w []string
	for _, s := range c.subs {
		w = append(w, s.path[len(s.path)-1])
	}
	for _, f := range c.flags {
		w = append(w, "--"+f.Name)
	}
	if len(c.path) == 1 && c.path[0] == "completion" {
		w = []string{"bash", "zsh", "fish"}
	}
	return w
}

func writeBash(w io.Writer, top completable) {
	fmt.Fprintf(w, `# bash completion for relais, made by 'relais completion bash' from its table of commands.
_relais() {
	local cur="${COMP_WORDS[COMP_CWORD]}" cmd="relais" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "$cmd ${COMP_WORDS[i]}" in
`)
	var paths []string
	for _, c := range top.all()[1:] {
		if len(c.subs) > 0 || len(c.flags) > 0 || len(c.words()) > 0 {
			paths = append(paths, `"relais `+strings.Join(c.path, " ")+`"`)
		}
	}
	fmt.Fprintf(w, "\t\t%s) cmd=\"$cmd ${COMP_WORDS[i]}\" ;;\n", strings.Join(paths, "|"))
	fmt.Fprintf(w, "\t\tesac\n\tdone\n\tlocal words=\"\"\n\tcase \"$cmd\" in\n")
	for _, c := range top.all() {
		if ws := c.words(); len(ws) > 0 {
			fmt.Fprintf(w, "\t\"%s\") words=\"%s\" ;;\n", strings.TrimSpace("relais "+strings.Join(c.path, " ")), strings.Join(ws, " "))
		}
	}
	fmt.Fprintf(w, "\tesac\n\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n}\ncomplete -o default -F _relais relais\n")
}

func writeFish(w io.Writer, top completable) {
	fmt.Fprintf(w, "# fish completion for relais, made by 'relais completion fish' from its table of commands.\n")
	fmt.Fprintf(w, "function __relais_path --description 'the relais subcommands typed so far'\n")
	fmt.Fprintf(w, "\tset -l words (commandline -opc)\n\tset -e words[1]\n\tstring join ' ' (string match -v -- '-*' $words)\nend\n\n")
	for _, c := range top.all() {
		// A command's words complete when the words typed so far are its path, and it has no
		// subcommand typed yet (flag values may follow, so the path only has to start the line).
		cond := `test -z "$(__relais_path)"`
		if len(c.path) > 0 {
			cond = fmt.Sprintf("string match -q -- %s (__relais_path)", fishQuote(strings.Join(c.path, " ")+"*"))
			if len(c.subs) > 0 {
				cond = fmt.Sprintf(`test "$(__relais_path)" = %s`, fishQuote(strings.Join(c.path, " ")))
			}
		}
		for _, s := range c.subs {
			fmt.Fprintf(w, "complete -c relais -f -n %s -a %s -d %s\n", fishQuote(cond), s.path[len(s.path)-1], fishQuote(s.summary))
		}
		for _, f := range c.flags {
			fmt.Fprintf(w, "complete -c relais -n %s -l %s -d %s\n", fishQuote(cond), f.Name, fishQuote(firstLine(f.Usage)))
		}
		if len(c.path) == 1 && c.path[0] == "completion" {
			fmt.Fprintf(w, "complete -c relais -f -n %s -a 'bash zsh fish'\n", fishQuote(cond))
		}
	}
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

func firstLine(s string) string { line, _, _ := strings.Cut(s, "\n"); return line }
