package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/links"
)

// legacyUnsubscribeToken is an unsubscribe token of earlier versions, which carried the address.
func legacyUnsubscribeToken(secret []byte, householdID int64, email string) string {
	payload := strconv.FormatInt(householdID, 10) + ":" + email
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("relais-unsubscribe-v1\x00"))
	m.Write([]byte(payload))
	b64 := base64.RawURLEncoding
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(m.Sum(nil))
}

// tamper changes the first character of a token.
func tamper(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}

// fakeHouseholds finds households in a map; err, when set, is every lookup's answer.
type fakeHouseholds struct {
	byID map[int64]relais.Household
	err  error
}

func (f fakeHouseholds) Household(_ context.Context, id int64) (relais.Household, error) {
	if f.err != nil {
		return relais.Household{}, f.err
	}
	h, ok := f.byID[id]
	if !ok {
		return h, relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id)
	}
	return h, nil
}

type fakeOptOutStore struct {
	setEmailOptOut func(ctx context.Context, email string, optOut bool) error
}

func (f *fakeOptOutStore) SetEmailOptOut(ctx context.Context, email string, optOut bool) error {
	return f.setEmailOptOut(ctx, email, optOut)
}

// Record hands an opt-out verdict to setEmailOptOut, as the ledger applies it.
func (f *fakeOptOutStore) Record(ctx context.Context, v channels.Verdict) (channels.Outcome, error) {
	if v.Contact.Kind != channels.ContactEmail || v.Contact.Status != relais.ContactOptedOut || v.Contact.OptIn {
		return channels.Outcome{}, fmt.Errorf("unexpected verdict %+v", v)
	}
	return channels.Outcome{}, f.setEmailOptOut(ctx, v.Contact.Address, true)
}

var _ channels.Recorder = (*fakeOptOutStore)(nil)

func TestUnsubscribeHandler(t *testing.T) {
	secret := []byte("secret")
	signer := links.NewSigner(secret, "https://relais.example")
	households := fakeHouseholds{byID: map[int64]relais.Household{
		7: {ID: 7, Email: "family@example.org", Language: "kk"},
		8: {ID: 8, Email: "new@example.org", Language: "fr"},
	}}
	good := signer.UnsubscribeToken(7, "Family@example.org")
	forged := links.NewSigner([]byte("not the secret"), "").UnsubscribeToken(7, "family@example.org")
	stale := signer.UnsubscribeToken(8, "old@example.org") // the household's address changed since
	legacy := legacyUnsubscribeToken(secret, 9, "a+tag@example.org")
	type call struct {
		Email  string
		OptOut bool
	}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		accept      string
		body        string
		storeErr    error
		lookupErr   error
		wantStatus  int
		wantCalls   []call
		wantBody    []string
		wantNot     []string
	}{
		{name: "get shows a form in the household's language and changes nothing", method: "GET", path: "/u/" + good, accept: "en",
			wantStatus: 200, wantBody: []string{`<input type="hidden" name="List-Unsubscribe" value="One-Click">`, `<html lang="kk">`,
				"Сабақтарды электрондық пошта арқылы алуды тоқтату керек пе?", ">Бас тарту</button>"},
			wantNot: []string{"Stop receiving"}},
		{name: "one-click post", method: "POST", path: "/u/" + good, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", wantStatus: 200, wantCalls: []call{{"family@example.org", true}},
			wantBody: []string{"Дайын: сабақтар енді электрондық поштаға келмейді."}},
		{name: "one-click post as multipart", method: "POST", path: "/u/" + good,
			contentType: "multipart/form-data; boundary=XX",
			body:        "--XX\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XX--\r\n",
			wantStatus:  200, wantCalls: []call{{"family@example.org", true}}},
		{name: "post without the one-click field", method: "POST", path: "/u/" + good,
			contentType: "application/x-www-form-urlencoded", body: "foo=bar", wantStatus: 400, wantBody: []string{"Жарамсыз сұраныс."}},
		{name: "forged token get, in the browser's language", method: "GET", path: "/u/" + forged, accept: "ru-RU,ru;q=0.9,en;q=0.5",
			wantStatus: 404, wantBody: []string{`<html lang="ru">`, "Эта ссылка недействительна."}, wantNot: []string{"This link is not valid", "<form"}},
		{name: "forged token get, a language the families do not read", method: "GET", path: "/u/" + forged, accept: "de",
			wantStatus: 404, wantBody: []string{"Ce lien n’est pas valide.", "Бұл сілтеме жарамсыз.", "Эта ссылка недействительна.", "This link is not valid."}},
		{name: "forged token post", method: "POST", path: "/u/" + forged, contentType: "application/x-www-form-urlencoded", accept: "fr",
			body: "List-Unsubscribe=One-Click", wantStatus: 404, wantBody: []string{"Ce lien n’est pas valide."}},
		{name: "tampered token", method: "POST", path: "/u/" + tamper(good),
			contentType: "application/x-www-form-urlencoded", accept: "en", body: "List-Unsubscribe=One-Click", wantStatus: 404,
			wantBody: []string{"This link is not valid."}},
		{name: "garbage token", method: "POST", path: "/u/garbage", contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", wantStatus: 404},
		{name: "link made for the household's earlier address", method: "POST", path: "/u/" + stale,
			contentType: "application/x-www-form-urlencoded", body: "List-Unsubscribe=One-Click", wantStatus: 404,
			wantBody: []string{`<html lang="fr">`, "Ce lien n’est pas valide."}},
		{name: "legacy link still opts its address out", method: "POST", path: "/u/" + legacy,
			contentType: "application/x-www-form-urlencoded", body: "List-Unsubscribe=One-Click", accept: "en", wantStatus: 200,
			wantCalls: []call{{"a+tag@example.org", true}}, wantBody: []string{"Done: you will no longer receive lessons by email."}},
		{name: "household lookup fails", method: "POST", path: "/u/" + good, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", lookupErr: errors.New("database down"), wantStatus: 500},
		{name: "store fails", method: "POST", path: "/u/" + good, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", storeErr: errors.New("disk full"), wantStatus: 500,
			wantCalls: []call{{"family@example.org", true}}, wantBody: []string{"Қате орын алды; кейінірек қайталап көріңіз."}},
		{name: "other method", method: "DELETE", path: "/u/" + good, wantStatus: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls []call
			store := &fakeOptOutStore{setEmailOptOut: func(_ context.Context, email string, optOut bool) error {
				calls = append(calls, call{email, optOut})
				return tt.storeErr
			}}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.accept != "" {
				req.Header.Set("Accept-Language", tt.accept)
			}
			rec := httptest.NewRecorder()
			hs := households
			hs.err = tt.lookupErr
			UnsubscribeHandler(store, signer, hs).ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d\n%s", rec.Code, tt.wantStatus, rec.Body)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("store calls (-want +got):\n%s", diff)
			}
			for _, want := range tt.wantBody {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body lacks %q:\n%s", want, rec.Body)
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(rec.Body.String(), not) {
					t.Errorf("body has %q:\n%s", not, rec.Body)
				}
			}
			if strings.Contains(rec.Body.String(), "@example.org") {
				t.Errorf("page shows the address")
			}
		})
	}
}

// TestUnsubscribeTokenRoundTripsThroughURL posts to a real server, as a mail provider does for
// one-click unsubscribe, at the URL the signer makes; the URL carries neither the address nor the id.
func TestUnsubscribeTokenRoundTripsThroughURL(t *testing.T) {
	signer := links.NewSigner([]byte("s"), "")
	var opted []string
	srv := httptest.NewServer(UnsubscribeHandler(&fakeOptOutStore{setEmailOptOut: func(_ context.Context, email string, _ bool) error {
		opted = append(opted, email)
		return nil
	}}, signer, fakeHouseholds{byID: map[int64]relais.Household{9123: {ID: 9123, Email: "a+tag@example.org", Language: "fr"}}}))
	defer srv.Close()
	u := srv.URL + signer.UnsubscribeURL(9123, "a+tag@example.org")
	if strings.Contains(u, "9123") || strings.Contains(u, "tag") || strings.Contains(u, "example.org") {
		t.Errorf("unsubscribe URL %s shows the household or its address", u)
	}
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(opted) != 1 || opted[0] != "a+tag@example.org" {
		t.Fatalf("status %d, opted out %q", resp.StatusCode, opted)
	}
}
