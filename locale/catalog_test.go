package locale

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// relaisPath is the import path of the root package, whose Errorf makes every application error.
var relaisPath = reflect.TypeOf(relais.Error{}).PkgPath()

// errorfCall is one relais.Errorf call with a literal format, as written in the source.
type errorfCall struct {
	format string
	at     string // file:line
}

// errorfCalls returns the literal formats of f's relais.Errorf calls (Errorf when f is the root
// package itself). A format that is not a literal (a UI string already in the page's language), one
// with no words ("%s", a message passed on), and internal errors (never shown) are left out.
func errorfCalls(fset *token.FileSet, f *ast.File, inRoot bool) []errorfCall {
	local := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == relaisPath {
			local = "relais"
			if imp.Name != nil {
				local = imp.Name.Name
			}
		}
	}
	var out []errorfCall
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		switch fun := call.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := fun.X.(*ast.Ident); !ok || local == "" || x.Name != local || fun.Sel.Name != "Errorf" {
				return true
			}
		case *ast.Ident:
			if !inRoot || fun.Name != "Errorf" {
				return true
			}
		default:
			return true
		}
		if name(call.Args[0]) == "EINTERNAL" {
			return true
		}
		format, ok := literal(call.Args[1])
		if !ok || !strings.ContainsFunc(verbRe.ReplaceAllString(format, ""), isLetter) {
			return true
		}
		pos := fset.Position(call.Pos())
		out = append(out, errorfCall{format, pos.Filename + ":" + strconv.Itoa(pos.Line)})
		return true
	})
	return out
}

// name is the identifier an expression names: EINVALID for relais.EINVALID or EINVALID.
func name(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// literal returns the value of a string literal, or of literals joined with +.
func literal(e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, err := strconv.Unquote(e.Value)
			return s, err == nil
		}
	case *ast.ParenExpr:
		return literal(e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, ok1 := literal(e.X)
			y, ok2 := literal(e.Y)
			return x + y, ok1 && ok2
		}
	}
	return "", false
}

func isLetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }

// sourceFormats reads every non-test Go file of the module under root.
func sourceFormats(t *testing.T, root string) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	used := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || n == "testdata" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		inRoot := filepath.Dir(path) == filepath.Clean(root) && f.Name.Name == "relais"
		for _, c := range errorfCalls(fset, f, inRoot) {
			used[c.format] = append(used[c.format], c.at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}

// TestCatalogsCoverErrorf fails when a relais.Errorf message in the source has no translation in one
// of the catalogs (French, Kazakh, Russian), or when a catalog holds a message the source no longer writes.
func TestCatalogsCoverErrorf(t *testing.T) {
	if _, err := os.Stat("../go.mod"); err != nil {
		t.Fatalf("the module root is not the parent directory: %v", err)
	}
	used := sourceFormats(t, "..")
	if len(used) < 100 {
		t.Fatalf("the source holds %d Errorf formats; the scan is missing files", len(used))
	}
	if len(catalogs) < 3 {
		t.Fatalf("%d catalogs; want fr, kk and ru at least", len(catalogs))
	}
	for lang, catalog := range catalogs {
		t.Run(lang, func(t *testing.T) {
			var missing, stale []string
			for format, at := range used {
				if _, ok := catalog[format]; !ok {
					missing = append(missing, at[0]+": "+strconv.Quote(format))
				}
			}
			for format := range catalog {
				if _, ok := used[format]; !ok {
					stale = append(stale, strconv.Quote(format))
				}
			}
			sort.Strings(missing)
			sort.Strings(stale)
			if len(missing) > 0 {
				t.Errorf("%d relais.Errorf messages have no translation: add them to locale/%s.go.\n%s", len(missing), lang, strings.Join(missing, "\n"))
			}
			if len(stale) > 0 {
				t.Errorf("locale/%s.go translates %d messages the source no longer writes: remove them.\n%s", lang, len(stale), strings.Join(stale, "\n"))
			}
		})
	}
}

// TestErrorfCalls checks what the scan counts as a message to translate.
func TestErrorfCalls(t *testing.T) {
	const src = `package p

import (
	"fmt"

	rl "github.com/relais-edu/relais"
)

func f(c, s string) {
	rl.Errorf(rl.EINVALID, "Lesson %d not found.", 1)
	rl.Errorf(rl.ENOTFOUND, "The file is " +
		"empty.")
	rl.Errorf(rl.EINTERNAL, "API answered %d", 500)
	rl.Errorf(rl.EINVALID, "%s", s)
	rl.Errorf(c, "%s %q", s, s)
	rl.Errorf(rl.EINVALID, s, 1)
	fmt.Errorf("not %s", "ours")
	Errorf(rl.EINVALID, "Not the root package.")
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	want := []errorfCall{{"Lesson %d not found.", "p.go:10"}, {"The file is empty.", "p.go:11"}}
	if diff := cmp.Diff(want, errorfCalls(fset, f, false), cmp.AllowUnexported(errorfCall{})); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	const root = `package relais

func g() error { return Errorf(EINVALID, "A station needs a name.") }
`
	f, err = parser.ParseFile(fset, "errors.go", root, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	want = []errorfCall{{"A station needs a name.", "errors.go:3"}}
	if diff := cmp.Diff(want, errorfCalls(fset, f, true), cmp.AllowUnexported(errorfCall{})); diff != "" {
		t.Errorf("root package calls (-want +got):\n%s", diff)
	}
}

// verbRe matches one fmt verb with its flags, argument index, width and precision.
var verbRe = regexp.MustCompile(`%[-+# 0]*(?:\[\d+\])?(?:\d+|\*)?(?:\.(?:\d+|\*)?)?[a-zA-Z%]`)

// TestCatalogVerbs checks every translated format takes the English one's arguments, in the same order
// and with the same verbs, and is translated.
func TestCatalogVerbs(t *testing.T) {
	for lang, catalog := range catalogs {
		for en, tr := range catalog {
			if !slices.Equal(verbRe.FindAllString(en, -1), verbRe.FindAllString(tr, -1)) {
				t.Errorf("verbs differ:\n en %q %q\n %s %q %q", verbRe.FindAllString(en, -1), en, lang, verbRe.FindAllString(tr, -1), tr)
			}
			if en == tr {
				t.Errorf("%s: not translated: %q", lang, en)
			}
		}
	}
}
