package email

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

func TestSignVerifyUnsubscribe(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	tok := SignUnsubscribe(secret, 42, "famille.ériké@example.org")
	if strings.ContainsAny(tok, "/+=?&# ") {
		t.Fatalf("token %q is not URL-safe", tok)
	}
	id, email, err := VerifyUnsubscribe(secret, tok)
	if err != nil || id != 42 || email != "famille.ériké@example.org" {
		t.Fatalf("VerifyUnsubscribe = %d, %q, %v", id, email, err)
	}

	other := SignUnsubscribe(secret, 43, "other@example.org")
	p, _, _ := strings.Cut(tok, ".")
	_, m, _ := strings.Cut(other, ".")
	bad := map[string]string{
		"empty":           "",
		"no dot":          strings.ReplaceAll(tok, ".", ""),
		"wrong secret":    SignUnsubscribe([]byte("another secret"), 42, "famille.ériké@example.org"),
		"swapped mac":     p + "." + m,
		"payload changed": b64.EncodeToString([]byte("42:evil@example.org")) + "." + strings.SplitN(tok, ".", 2)[1],
		"mac truncated":   tok[:len(tok)-2],
		"not base64":      "!!!.???",
		"no id separator": b64.EncodeToString([]byte("x")) + "." + b64.EncodeToString(unsubscribeMAC(secret, "x")),
		"id not a number": b64.EncodeToString([]byte("x:a@b.c")) + "." + b64.EncodeToString(unsubscribeMAC(secret, "x:a@b.c")),
		"empty email":     b64.EncodeToString([]byte("1:")) + "." + b64.EncodeToString(unsubscribeMAC(secret, "1:")),
		"mac without ctx": "MTph",
	}
	for name, tok := range bad {
		if _, _, err := VerifyUnsubscribe(secret, tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: err = %v, want ErrBadToken", name, err)
		}
	}
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
	good := SignUnsubscribe(secret, 7, "family@example.org")
	forged := SignUnsubscribe([]byte("not the secret"), 7, "family@example.org")
	type call struct {
		Email  string
		OptOut bool
	}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		accept      string // Accept-Language
		body        string
		storeErr    error
		wantStatus  int
		wantCalls   []call
		wantBody    string
		wantLang    string
	}{
		{name: "get shows a form and changes nothing", method: "GET", path: "/u/" + good, wantStatus: 200,
			wantBody: `<input type="hidden" name="List-Unsubscribe" value="One-Click">`, wantLang: "en"},
		{name: "get from a Russian browser", method: "GET", path: "/u/" + good, accept: "ru-RU,ru;q=0.9,en;q=0.8", wantStatus: 200,
			wantBody: `<p lang="ru">Больше не получать уроки по электронной почте?</p>`, wantLang: "ru"},
		{name: "forged token from a Kazakh browser", method: "GET", path: "/u/" + forged, accept: "kk", wantStatus: 404,
			wantBody: `<p lang="kk">Бұл сілтеме жарамсыз.</p>`, wantLang: "kk"},
		{name: "one-click post", method: "POST", path: "/u/" + good, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", wantStatus: 200, wantCalls: []call{{"family@example.org", true}}, wantBody: "Done"},
		{name: "one-click post as multipart", method: "POST", path: "/u/" + good,
			contentType: "multipart/form-data; boundary=XX",
			body:        "--XX\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XX--\r\n",
			wantStatus:  200, wantCalls: []call{{"family@example.org", true}}},
		{name: "post without the one-click field", method: "POST", path: "/u/" + good,
			contentType: "application/x-www-form-urlencoded", body: "foo=bar", wantStatus: 400},
		{name: "forged token get", method: "GET", path: "/u/" + forged, wantStatus: 404, wantBody: "not valid"},
		{name: "forged token post", method: "POST", path: "/u/" + forged, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", wantStatus: 404},
		{name: "garbage token", method: "POST", path: "/u/garbage", contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", wantStatus: 404},
		{name: "store fails", method: "POST", path: "/u/" + good, contentType: "application/x-www-form-urlencoded",
			body: "List-Unsubscribe=One-Click", storeErr: errors.New("disk full"), wantStatus: 500,
			wantCalls: []call{{"family@example.org", true}}, wantBody: "went wrong"},
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
			UnsubscribeHandler(store, secret).ServeHTTP(rec, req)
			if tt.wantLang != "" && !strings.Contains(rec.Body.String(), `<html lang="`+tt.wantLang+`">`) {
				t.Errorf("page lacks <html lang=%q>:\n%s", tt.wantLang, rec.Body)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d\n%s", rec.Code, tt.wantStatus, rec.Body)
			}
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("store calls (-want +got):\n%s", diff)
			}
			if !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body lacks %q:\n%s", tt.wantBody, rec.Body)
			}
			if strings.Contains(rec.Body.String(), "family@example.org") {
				t.Errorf("page shows the address")
			}
		})
	}
}

// TestUnsubscribeTokenRoundTripsThroughURL posts to a real server, as a mail provider does for
// one-click unsubscribe, with an address that needs no escaping to survive in the path.
func TestUnsubscribeTokenRoundTripsThroughURL(t *testing.T) {
	secret := []byte("s")
	tok := SignUnsubscribe(secret, 9, "a+tag@example.org")
	srv := httptest.NewServer(UnsubscribeHandler(&fakeOptOutStore{setEmailOptOut: func(_ context.Context, email string, _ bool) error {
		if email != "a+tag@example.org" {
			t.Errorf("opted out %q", email)
		}
		return nil
	}}, secret))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/u/"+tok, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
