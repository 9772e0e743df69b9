package locale

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

func TestMessage(t *testing.T) {
	tooBig := relais.Errorf(relais.ETOOLARGE, "The file is %s, larger than the limit of %s. Shorten the lesson or lower its resolution.", "3.0 GiB", "2 GiB")
	tests := []struct {
		name string
		err  error
		lang string
		want string
	}{
		{"french with args", tooBig, "fr",
			"Le fichier fait 3.0 GiB, plus que la limite de 2 GiB. Raccourcissez la leçon ou baissez sa résolution."},
		{"french quoted arg", relais.Errorf(relais.EINVALID, "Upload-Length %q is not a size in bytes.", "abc"), "fr",
			`Upload-Length "abc" n'est pas une taille en octets.`},
		{"french percent", relais.Errorf(relais.ECONFLICT, "The lesson is still being processed (%s, %d %%); publish it when its status is ready.", "transcode", 40), "fr",
			"La leçon est encore en traitement (transcode, 40 %) ; publiez-la quand son état sera « ready »."},
		{"french wrapped", fmt.Errorf("create lesson: %w", relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", 7)), "fr",
			"La leçon 7 est introuvable."},
		{"french nested error", relais.Errorf(relais.EINVALID, "Lesson %d does not fit slot %d: %s", 3, 4,
			relais.Errorf(relais.EINVALID, "The lesson lasts %s; it overruns its %s slot by %s s.", "40 min", "30 min", "600")), "fr",
			"La leçon 3 ne convient pas au créneau 4 : La leçon dure 40 min ; elle dépasse son créneau de 30 min de 600 s."},
		{"english", tooBig, "en",
			"The file is 3.0 GiB, larger than the limit of 2 GiB. Shorten the lesson or lower its resolution."},
		{"no language", tooBig, "",
			"The file is 3.0 GiB, larger than the limit of 2 GiB. Shorten the lesson or lower its resolution."},
		{"language without catalog", tooBig, "de",
			"The file is 3.0 GiB, larger than the limit of 2 GiB. Shorten the lesson or lower its resolution."},
		{"format without French", relais.Errorf(relais.EINVALID, "%s", "Déjà en français."), "fr", "Déjà en français."},
		{"unknown format", relais.Errorf(relais.EINVALID, "A message nobody wrote %d.", 1), "fr", "A message nobody wrote 1."},
		{"error built as a literal", &relais.Error{Code: relais.EINVALID, Message: "Lesson 3 not found."}, "fr", "Lesson 3 not found."},
		{"not an application error", errors.New("disk full"), "fr", "Internal error."},
		{"nil", nil, "fr", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Message(tt.err, tt.lang); got != tt.want {
				t.Errorf("Message(%v, %q) = %q, want %q", tt.err, tt.lang, got, tt.want)
			}
		})
	}
}

func TestAccept(t *testing.T) {
	tests := []struct{ header, want string }{
		{"", "en"},
		{"fr", "fr"},
		{"fr-FR,fr;q=0.9", "fr"},
		{"FR-ca", "fr"},
		{"en-GB,en;q=0.9,fr;q=0.8", "en"},
		{"de-DE, fr;q=0.5", "fr"},
		{"de, es", "en"},
		{"fr;q=0, en;q=0.5", "en"},
		{"*", "en"},
		{"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"},
		{"kk-KZ,kk;q=0.9,ru;q=0.8", "kk"},
	}
	for _, tt := range tests {
		if got := Accept(tt.header); got != tt.want {
			t.Errorf("Accept(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

// TestMatch: the languages a header names, "" when none, for the pages that then speak all four.
func TestMatch(t *testing.T) {
	for header, want := range map[string]string{
		"kk-KZ,kk;q=0.9,ru;q=0.8": "kk",
		"de-DE,ru;q=0.5":          "ru",
		"fr;q=0,en":               "en",
		"de":                      "",
		"":                        "",
	} {
		if got := Match(header); got != want {
			t.Errorf("Match(%q) = %q, want %q", header, got, want)
		}
	}
}

// TestPreferred: weights rank the languages whatever their order; ties keep the header's order; a
// malformed entry costs only itself.
func TestPreferred(t *testing.T) {
	ui := func(base string) bool { return base == "fr" || base == "en" || base == "kk" || base == "ru" }
	for header, want := range map[string]string{
		"en;q=0.5,ru;q=0.9":           "ru",
		"kk,ru":                       "kk",
		"ru;q=0.8,kk;q=0.8":           "ru",
		"de,fr-CA;q=0.3,en-GB;q=0.2":  "fr",
		"!!garbage!!,ru;q=0.4":        "ru",
		"fr;q=abc,en;q=0.1":           "en",
		"fr;q=0":                      "",
		"*":                           "",
		"zh-Hant-TW,kk-Cyrl-KZ;q=0.7": "kk",
	} {
		if got := Preferred(header, ui); got != want {
			t.Errorf("Preferred(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestWithTranslations(t *testing.T) {
	// A refusal rebuilt from text after crossing a process boundary: its format is "%s".
	rebuilt := relais.Errorf(relais.EINVALID, "%s", "The file has no sound track.")
	err := fmt.Errorf("probe a.mp4: %w", WithTranslations(rebuilt, map[string]string{"fr": "Le fichier n'a pas de piste son."}))
	if got, want := Message(err, "fr"), "Le fichier n'a pas de piste son."; got != want {
		t.Errorf("Message(fr) = %q, want %q", got, want)
	}
	if got, want := Message(err, "en"), "The file has no sound track."; got != want {
		t.Errorf("Message(en) = %q, want %q", got, want)
	}
	if relais.ErrorCode(err) != relais.EINVALID || relais.ErrorMessage(err) != "The file has no sound track." {
		t.Errorf("code %q, message %q: want the rebuilt error's", relais.ErrorCode(err), relais.ErrorMessage(err))
	}
	// Carried translations pass through Translations, so a record can keep them.
	// Languages the carried text lacks fall back to English, as Message does.
	want := map[string]string{"fr": "Le fichier n'a pas de piste son.", "kk": "The file has no sound track.", "ru": "The file has no sound track."}
	if diff := cmp.Diff(want, Translations(err)); diff != "" {
		t.Errorf("Translations (-want +got):\n%s", diff)
	}
}

func TestTranslations(t *testing.T) {
	err := relais.Errorf(relais.ENOTFOUND, "Lesson %d not found.", 7)
	want := map[string]string{"fr": "La leçon 7 est introuvable.", "kk": "7 сабақ табылмады.", "ru": "Урок 7 не найден."}
	if diff := cmp.Diff(want, Translations(err)); diff != "" {
		t.Errorf("Translations (-want +got):\n%s", diff)
	}
	if got := Translations(nil); got != nil {
		t.Errorf("Translations(nil) = %v, want nil", got)
	}
}
