package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
)

// TestErrorLanguage checks that error messages follow the request's Accept-Language: English without
// one, French when the client prefers French, for JSON errors and for the tus hooks' plain text.
func TestErrorLanguage(t *testing.T) {
	f := newFixture(t, nil)
	const textUpload = "This is a text file, not a recording: put the lesson text in the 'text' field, and upload the video or audio recording here."
	tests := []struct {
		name     string
		method   string
		path     string
		user     string
		header   map[string]string
		status   int
		en, fr   string
		tusError bool // the answer is tusd's "ERR_CODE: message" text, not JSON
	}{
		{name: "path id", method: "GET", path: "/api/v1/lessons/abc", user: "t1", status: 400,
			en: `The id "abc" in the path is not a positive number.`,
			fr: `L'identifiant "abc" dans le chemin n'est pas un nombre positif.`},
		{name: "no token", method: "GET", path: "/api/v1/lessons", status: 401,
			en: "Send an API token as 'Authorization: Bearer TOKEN' (create one with 'relais token create').",
			fr: "Envoyez un jeton d'API sous la forme « Authorization: Bearer TOKEN » (créez-en un avec « relais token create »)."},
		{name: "another teacher's lesson", method: "GET", path: "/api/v1/lessons/999", user: "t1", status: 404,
			en: "Lesson 999 not found.", fr: "La leçon 999 est introuvable."},
		{name: "tus size", method: "POST", path: "/api/v1/uploads", user: "t1",
			header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "-3"}, status: 400,
			en: `Upload-Length "-3" is not a size in bytes.`, fr: `Upload-Length "-3" n'est pas une taille en octets.`},
		{name: "tus hook", method: "POST", path: "/api/v1/uploads", user: "t1", tusError: true,
			header: map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "100",
				"Upload-Metadata": tusMetadata("filename", "notes.txt", "filetype", "text/plain")}, status: 400,
			en: "ERR_INVALID: " + textUpload,
			fr: "ERR_INVALID: C'est un fichier texte, pas un enregistrement : mettez le texte de la leçon dans le champ « text », et déposez ici l'enregistrement vidéo ou audio."},
	}
	langs := []struct{ accept, want string }{{"", "en"}, {"fr-FR,fr;q=0.9", "fr"}, {"en-US,en;q=0.9", "en"}, {"de-DE,de;q=0.9", "en"}}
	for _, tt := range tests {
		for _, l := range langs {
			t.Run(tt.name+"/"+l.accept, func(t *testing.T) {
				req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
				if tt.user != "" {
					req.Header.Set("Authorization", "Bearer "+f.tokens[tt.user])
				}
				if l.accept != "" {
					req.Header.Set("Accept-Language", l.accept)
				}
				for k, v := range tt.header {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				got := strings.TrimSpace(string(b))
				if !tt.tusError {
					var body errorBody
					if err := json.Unmarshal(b, &body); err != nil {
						t.Fatalf("not a JSON error: %v: %s", err, b)
					}
					got = body.Error.Message
				}
				want := tt.en
				if l.want == "fr" {
					want = tt.fr
				}
				if resp.StatusCode != tt.status || got != want {
					t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, resp.StatusCode, got, tt.status, want)
				}
			})
		}
	}
}

// TestImportRowErrorLanguage checks that a household import's row errors follow the request's
// Accept-Language, as error messages do, and stay the English text without it.
func TestImportRowErrorLanguage(t *testing.T) {
	f := newFixture(t, nil)
	const csv = "external_ref,language,grades,profile,phone,consent\n" +
		"H1,fr,5,sms_only,+33612345678,yes\n" +
		"H2,fr,5,sms_only,+3361,yes\n" +
		"H3,fr,5,sms_only,+33612345679,peut-être\n"
	tests := []struct {
		accept string
		want   []rowJSON
	}{
		{"", []rowJSON{
			{3, `phone "+3361" is not a valid phone number (numbers without + are read as FR numbers)`},
			{4, `consent "peut-être" is not yes or no`}}},
		{"fr-FR,fr;q=0.9", []rowJSON{
			{3, `phone "+3361" n'est pas un numéro de téléphone valide (les numéros sans + sont lus comme des numéros du pays FR)`},
			{4, `consent "peut-être" ne vaut ni oui ni non (yes ou no)`}}},
		{"de-DE,de;q=0.9", []rowJSON{
			{3, `phone "+3361" is not a valid phone number (numbers without + are read as FR numbers)`},
			{4, `consent "peut-être" is not yes or no`}}},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/households/import", strings.NewReader(csv))
			req.Header.Set("Authorization", "Bearer "+f.tokens["m"])
			req.Header.Set("Content-Type", "text/csv")
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Imported, Rejected int
				Errors             []rowJSON
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || got.Imported != 1 || got.Rejected != 2 {
				t.Errorf("import = %d, %d imported, %d rejected; want 200, 1, 2", resp.StatusCode, got.Imported, got.Rejected)
			}
			if diff := cmp.Diff(tt.want, got.Errors); diff != "" {
				t.Errorf("row errors (-want +got):\n%s", diff)
			}
		})
	}
}

// rowJSON is a row error as a client reads it.
type rowJSON struct {
	Row     int    `json:"row"`
	Message string `json:"message"`
}

// TestLessonReasonLanguage checks that a lesson's status_reason follows Accept-Language: the French
// the store kept when there is one, English otherwise; the same for the conflict of publishing it.
func TestLessonReasonLanguage(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	l := relais.Lesson{Title: "Silent", Subject: "maths", Grade: 5, Language: "fr", TeacherID: "t1", SegmentBudget: 3}
	if err := f.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetLessonStatus(ctx, l.ID, relais.LessonRejected, relais.Errorf(relais.EINVALID, "The sound track is silent.")); err != nil {
		t.Fatal(err)
	}
	get := func(method, path, user, accept string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, f.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
		req.Header.Set("Accept-Language", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	const en, fr = "The sound track is silent.", "La piste son est muette."
	for _, tt := range []struct{ accept, want string }{{"fr-FR,fr;q=0.9", fr}, {"en", en}, {"", en}, {"de", en}} {
		if _, got := get("GET", fmt.Sprintf("/api/v1/lessons/%d", l.ID), "t1", tt.accept); got["status_reason"] != tt.want {
			t.Errorf("GET lesson, Accept-Language %q: status_reason %v, want %q", tt.accept, got["status_reason"], tt.want)
		}
		_, list := get("GET", "/api/v1/lessons", "t1", tt.accept)
		items, _ := list["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["status_reason"] != tt.want {
			t.Errorf("list, Accept-Language %q: items %v, want status_reason %q", tt.accept, items, tt.want)
		}
	}
	status, got := get("POST", fmt.Sprintf("/api/v1/lessons/%d/publish", l.ID), "m", "fr")
	msg, _ := got["error"].(map[string]any)
	if want := "La leçon ne peut pas être publiée : son état est « rejected » (" + fr + ")."; status != http.StatusConflict || msg["message"] != want {
		t.Errorf("publish in French: %d %v, want 409 %q", status, got, want)
	}
}
