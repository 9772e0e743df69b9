// Package templates embeds every template Relais renders and parses them all at start-up, so a missing
// file or a syntax error fails the boot rather than the first send. text/template renders SMS;
// html/template renders email HTML; the plain-text email alternative uses text/template.
//
// Files are named NAME.LANG.tmpl (sms/digest.fr.tmpl) so that a template is looked up by name and the
// household's language, with English as the fallback.
package templates

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	texttemplate "text/template"
)

//go:embed sms/*.tmpl email/*.tmpl web/*.tmpl
var files embed.FS

// FallbackLanguage is used when a template has no version in the asked language.
const FallbackLanguage = "en"

// Set holds every parsed template.
type Set struct {
	sms       *texttemplate.Template
	emailText *texttemplate.Template
	emailHTML *htmltemplate.Template
	web       *htmltemplate.Template
}

// Load parses every embedded template.
func Load() (*Set, error) { return load(files) }

func load(fsys fs.FS) (*Set, error) {
	s := &Set{
		sms:       texttemplate.New("sms").Funcs(textFuncs),
		emailText: texttemplate.New("email-text").Funcs(textFuncs),
		emailHTML: htmltemplate.New("email-html").Funcs(htmltemplate.FuncMap(textFuncs)),
		web:       htmltemplate.New("web").Funcs(htmltemplate.FuncMap(textFuncs)),
	}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(p, ".tmpl")
		switch {
		case strings.HasPrefix(p, "sms/"):
			_, err = s.sms.New(name).Parse(string(b))
		case strings.HasPrefix(p, "email/") && strings.Contains(path.Base(p), ".html."):
			_, err = s.emailHTML.New(name).Parse(string(b))
		case strings.HasPrefix(p, "email/"):
			_, err = s.emailText.New(name).Parse(string(b))
		case strings.HasPrefix(p, "web/"):
			_, err = s.web.New(name).Parse(string(b))
		default:
			err = fmt.Errorf("unexpected template file")
		}
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

var textFuncs = texttemplate.FuncMap{
	"join": strings.Join,
}

// lookupName returns base.lang when it exists, else base.en.
func lookupName(has func(string) bool, base, lang string) (string, error) {
	for _, l := range []string{lang, FallbackLanguage} {
		if n := base + "." + l; has(n) {
			return n, nil
		}
	}
	return "", fmt.Errorf("no template %s for language %q", base, lang)
}

// SMS renders sms/NAME.LANG.tmpl, e.g. SMS(w, "digest", "fr", data).
func (s *Set) SMS(w io.Writer, name, lang string, data any) error {
	n, err := lookupName(func(n string) bool { return s.sms.Lookup(n) != nil }, "sms/"+name, lang)
	if err != nil {
		return err
	}
	return s.sms.ExecuteTemplate(w, n, data)
}

// EmailText renders email/NAME.txt.LANG.tmpl.
func (s *Set) EmailText(w io.Writer, name, lang string, data any) error {
	n, err := lookupName(func(n string) bool { return s.emailText.Lookup(n) != nil }, "email/"+name+".txt", lang)
	if err != nil {
		return err
	}
	return s.emailText.ExecuteTemplate(w, n, data)
}

// EmailHTML renders email/NAME.html.LANG.tmpl with contextual escaping.
func (s *Set) EmailHTML(w io.Writer, name, lang string, data any) error {
	n, err := lookupName(func(n string) bool { return s.emailHTML.Lookup(n) != nil }, "email/"+name+".html", lang)
	if err != nil {
		return err
	}
	return s.emailHTML.ExecuteTemplate(w, n, data)
}

// Page renders web/NAME.tmpl, an HTML page.
func (s *Set) Page(w io.Writer, name string, data any) error {
	return s.web.ExecuteTemplate(w, "web/"+name, data)
}
