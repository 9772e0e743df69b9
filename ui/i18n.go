package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/relais-edu/relais/locale"
)

// uiLangs are the languages of the UI text, the first the default.
var uiLangs = []string{"fr", "en", "kk", "ru"}

// messages holds every UI string in each UI language: ui/i18n/<lang>.json, one object of key to text a
// language, read and checked when the package loads. Strings with %s or %d are formats. A new key goes
// in every language's file; a test checks that every key the templates and handlers use is there.
var messages = mustLoadMessages(i18nFiles, uiLangs)

//go:embed i18n/*.json
var i18nFiles embed.FS

func mustLoadMessages(fsys fs.FS, langs []string) map[string]map[string]string {
	m, err := loadMessages(fsys, langs)
	if err != nil {
		panic("ui: " + err.Error())
	}
	return m
}

// loadMessages reads the table of each language and checks that every language has every key, once.
func loadMessages(fsys fs.FS, langs []string) (map[string]map[string]string, error) {
	all := make(map[string]map[string]string, len(langs))
	for _, lang := range langs {
		data, err := fs.ReadFile(fsys, "i18n/"+lang+".json")
		if err != nil {
			return nil, err
		}
		if all[lang], err = decodeMessages(data); err != nil {
			return nil, fmt.Errorf("i18n/%s.json: %w", lang, err)
		}
	}
	for _, lang := range langs[1:] {
		for key := range all[langs[0]] {
			if _, ok := all[lang][key]; !ok {
				return nil, fmt.Errorf("i18n/%s.json lacks %q", lang, key)
			}
		}
		for key := range all[lang] {
			if _, ok := all[langs[0]][key]; !ok {
				return nil, fmt.Errorf("i18n/%s.json lacks %q", langs[0], key)
			}
		}
	}
	return all, nil
}

// decodeMessages reads one JSON object of strings, refusing a key given twice (which encoding/json
// would let the last one win).
func decodeMessages(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object of strings")
	}
	m := map[string]string{}
	for dec.More() {
		var key, text string
		tok, err := dec.Token()
		if err == nil {
			key, _ = tok.(string)
			err = dec.Decode(&text)
		}
		if err != nil {
			return nil, fmt.Errorf("after %q: %w", key, err)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("%q given twice", key)
		}
		m[key] = text
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return m, nil
}

// t returns the UI text of key in the request's language.
func (c *reqCtx) t(key string) string {
	if s, ok := messages[c.lang][key]; ok {
		return s
	}
	return key
}

// pickLang takes the language chosen in the language picker, else the UI language the browser prefers
// most (Accept-Language, by q-value), else the default.
func pickLang(r *http.Request) string {
	if ck, err := r.Cookie(langCookie); err == nil && validLang(ck.Value) {
		return ck.Value
	}
	if l := acceptLang(r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	return uiLangs[0]
}

// acceptLang returns the UI language an Accept-Language header prefers most ("ru-RU,ru;q=0.9,en;q=0.8"
// gives "ru"), "" when it names none. Languages are tried by q-value, the header's order breaking ties;
// one refused with q=0 is never chosen.
func acceptLang(header string) string { return locale.Preferred(header, validLang) }

func validLang(l string) bool { _, ok := messages[l]; return ok }

// langNames names each UI language in itself, by code.
var langNames = func() map[string]string {
	m := make(map[string]string, len(uiLangs))
	for _, l := range uiLangs {
		m[l] = messages[l]["lang_name"]
	}
	return m
}()

// langChoice is one entry of the language picker: a UI language named in itself.
type langChoice struct {
	Code, Name string
	Current    bool
}

// langChoices lists every UI language for the picker, current marking the page's.
func langChoices(current string) []langChoice {
	out := make([]langChoice, len(uiLangs))
	for i, l := range uiLangs {
		out[i] = langChoice{Code: l, Name: messages[l]["lang_name"], Current: l == current}
	}
	return out
}
