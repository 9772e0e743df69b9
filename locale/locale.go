// Package locale writes application errors in the user's language. relais.Errorf makes every message
// in English; this package keeps, for each other language, a catalog from the English format to its
// translation, and formats the translation with the error's own arguments. A test reads the source
// tree and fails when a message written with relais.Errorf has no French, Kazakh or Russian.
package locale

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	relais "github.com/relais-edu/relais"
	"golang.org/x/text/language"
)

// Default is the language of relais.Errorf's messages, and of a request that asks for none we write.
const Default = "en"

// catalogs maps a language to its translations of Errorf formats, keyed by the English format.
var catalogs = map[string]map[string]string{"fr": fr, "kk": kk, "ru": ru}

// Message returns err's user message in lang: the translation of its format, formatted with its
// arguments (an argument that is itself a *relais.Error is written in lang too). An unknown
// language, an error that is not a *relais.Error, or a format without a translation gives the
// English message.
func Message(err error, lang string) string {
	var t *translated
	if errors.As(err, &t) {
		if msg, ok := t.byLang[lang]; ok {
			return msg
		}
	}
	var e *relais.Error
	if errors.As(err, &e) {
		format, args := e.Template()
		if tr, ok := catalogs[lang][format]; ok && format != "" {
			shown := make([]any, len(args))
			for i, a := range args {
				if inner, ok := a.(*relais.Error); ok {
					a = Message(inner, lang)
				}
				shown[i] = a
			}
			return fmt.Sprintf(tr, shown...)
		}
	}
	return relais.ErrorMessage(err)
}

// Translations returns err's user message in every language other than Default that messages are
// written in, by language: what a record keeps so that the message can be shown later in any of them.
// It is nil for a nil err.
func Translations(err error) map[string]string {
	if err == nil {
		return nil
	}
	out := make(map[string]string, len(catalogs))
	for lang := range catalogs {
		out[lang] = Message(err, lang)
	}
	return out
}

// WithTranslations returns err carrying its message already written in other languages, by
// language, for an error whose format was lost on the way (a message that crossed a process
// boundary as text, rebuilt with Errorf(code, "%s", msg)). Message gives the carried text for
// those languages; errors.As still finds err, so its code and English message are unchanged.
func WithTranslations(err *relais.Error, byLang map[string]string) error {
	return &translated{err, byLang}
}

// translated is an error with its message in other languages, made by WithTranslations.
type translated struct {
	err    *relais.Error
	byLang map[string]string
}

func (t *translated) Error() string { return t.err.Error() }
func (t *translated) Unwrap() error { return t.err }

// Accept returns the first language of an Accept-Language header that messages are written in
// ("fr-FR,fr;q=0.9" gives "fr"), Default when there is none. A language refused with q=0 is skipped.
func Accept(header string) string {
	if l := Match(header); l != "" {
		return l
	}
	return Default
}

// Match is Accept without the default: "" when the header names none of the languages messages are
// written in (a page that must then speak them all, such as a family link that opens nothing, asks
// this).
func Match(header string) string {
	return Preferred(header, func(base string) bool {
		_, ok := catalogs[base]
		return ok || base == Default
	})
}

// Preferred returns the base language ("fr" for "fr-CA") of the header's most wanted language that ok
// accepts, "" when there is none. Weights rank the languages, the first listed winning a tie
// (RFC 9110, 12.5.4); a language weighted 0 is refused; a malformed entry is skipped, not the header.
func Preferred(header string, ok func(base string) bool) string {
	type choice struct {
		base string
		q    float32
	}
	var choices []choice
	for _, entry := range strings.Split(header, ",") {
		tags, qs, err := language.ParseAcceptLanguage(entry)
		if err != nil {
			continue
		}
		for i, t := range tags {
			if b, conf := t.Base(); conf == language.Exact {
				choices = append(choices, choice{b.String(), qs[i]})
			}
		}
	}
	slices.SortStableFunc(choices, func(a, b choice) int { return cmp.Compare(b.q, a.q) })
	for _, c := range choices {
		if ok(c.base) {
			return c.base
		}
	}
	return ""
}
