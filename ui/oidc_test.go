package ui

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/oidcprovider"
)

// The people the OpenID provider knows in these tests; the role claim is preferred_username, the
// provider's user name, which its userinfo endpoint gives (not its ID tokens).
var oidcUsers = []oidcprovider.User{
	{ID: "sub-ann", Username: "ann", Password: "pw-ann", FirstName: "Ann", LastName: "Admin"},
	{ID: "sub-mo", Username: "mo", Password: "pw-mo", FirstName: "Mo", LastName: "Media"},
	{ID: "sub-tea", Username: "tea", Password: "pw-tea", FirstName: "Tea", LastName: "Cher"},
	{ID: "sub-nobody", Username: "nobody", Password: "pw-nobody", FirstName: "No", LastName: "Role"},
}

const uiSecret = "ui-test-secret-0123456789" // newFixtureOn's

// newOIDCFixture starts the OpenID provider and the UI configured to sign in there.
func newOIDCFixture(t *testing.T) (*fixture, *oidcprovider.Provider) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx := context.Background()
	p, err := oidcprovider.Start(ctx, t.TempDir(), oidcUsers, base+"/ui/oidc/callback")
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Stop(ctx)
	})
	f := newFixtureOn(t, ln, nil, func(c *Config) {
		c.OIDC = OIDCConfig{Issuer: p.Issuer, ClientID: oidcprovider.ClientID, ClientSecret: oidcprovider.ClientSecret,
			Name: "Ministry ID", RedirectURL: base + "/ui/oidc/callback", SignedOutURL: base + "/ui/signin",
			RoleClaim: "preferred_username",
			Roles:     map[string]relais.Role{"ann": relais.RoleAdmin, "mo": relais.RoleMedia, "tea": relais.RoleTeacher}}
	})
	return f, p
}

// startOIDC opens the sign-in page's provider link as a browser does and returns the provider's
// authorization URL it is sent to.
func (c *client) startOIDC() string {
	c.f.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+"/ui/oidc/start?next=/ui/lessons", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		c.f.t.Fatalf("start of OpenID sign-in: %s", resp.Status)
	}
	return resp.Header.Get("Location")
}

// logIn fills the provider's login form and returns the callback URL the provider sends the browser to.
func (c *client) logIn(authURL, username, password string) *url.URL {
	c.f.t.Helper()
	back, err := oidcprovider.LogIn(context.Background(), c.hc, authURL, username, password)
	if err != nil {
		c.f.t.Fatal(err)
	}
	if !strings.HasPrefix(back.String(), c.f.srv.URL+"/ui/oidc/callback?") {
		c.f.t.Fatalf("provider sent the browser back to %s", back)
	}
	return back
}

// callback opens the callback URL as the browser, returning the status, the page and the redirect.
func (c *client) callback(u *url.URL) (int, string, string) {
	c.f.t.Helper()
	req, _ := http.NewRequest("GET", u.String(), nil)
	req.Header.Set("Accept-Language", "en")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	body := bodyOf(resp)
	resp.Body.Close()
	return resp.StatusCode, body, resp.Header.Get("Location")
}

func TestOIDCSignInMapsRoles(t *testing.T) {
	f, p := newOIDCFixture(t)
	if _, body := f.browser("").get("/ui/signin"); !strings.Contains(body, "Sign in with Ministry ID") ||
		!strings.Contains(body, `href="/ui/oidc/start?next=%2fui%2flessons"`) {
		t.Fatalf("sign-in page has no provider button:\n%s", body)
	}
	for _, tc := range []struct {
		user, password, name string
		role                 relais.Role
		staffPage            int
	}{
		{"ann", "pw-ann", "Ann Admin", relais.RoleAdmin, 200},
		{"mo", "pw-mo", "Mo Media", relais.RoleMedia, 200},
		{"tea", "pw-tea", "Tea Cher", relais.RoleTeacher, 403},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := f.browser("")
			auth := c.startOIDC()
			if !strings.HasPrefix(auth, p.Issuer) || !strings.Contains(auth, "code_challenge_method=S256") ||
				!strings.Contains(auth, "nonce=") || !strings.Contains(auth, "state=") {
				t.Fatalf("authorization URL without PKCE, nonce or state: %s", auth)
			}
			status, body, loc := c.callback(c.logIn(auth, tc.user, tc.password))
			if status != http.StatusSeeOther || loc != "/ui/lessons" {
				t.Fatalf("callback = %d to %q:\n%s", status, loc, body)
			}
			status, body = c.get("/ui/lessons")
			roleName := map[relais.Role]string{relais.RoleTeacher: "teacher", relais.RoleMedia: "media unit", relais.RoleAdmin: "admin"}[tc.role]
			if status != 200 || !strings.Contains(body, "<strong>"+tc.name+"</strong> ("+roleName+")") {
				t.Fatalf("lessons after sign-in = %d, want %s (%s) named:\n%s", status, tc.name, tc.role, body)
			}
			if status, _ := c.get("/ui/dashboard"); status != tc.staffPage {
				t.Errorf("dashboard as %s = %d, want %d", tc.role, status, tc.staffPage)
			}
			// The first sign-in created the user, keyed by issuer and subject; a second keeps it.
			id := relais.StaffUserID(p.Issuer, "sub-"+map[string]string{"ann": "ann", "mo": "mo", "tea": "tea"}[tc.user])
			u, err := f.store.StaffUser(context.Background(), id)
			if err != nil || u.Role != tc.role || u.Name != tc.name {
				t.Errorf("stored user = %+v, %v; want %s as %s", u, err, tc.name, tc.role)
			}
			again := f.browser("")
			if status, _, _ := again.callback(again.logIn(again.startOIDC(), tc.user, tc.password)); status != http.StatusSeeOther {
				t.Errorf("second sign-in = %d", status)
			}
			if u2, err := f.store.StaffUser(context.Background(), id); err != nil || u2 != u {
				t.Errorf("user after second sign-in = %+v, %v; want %+v", u2, err, u)
			}
		})
	}
}

func TestOIDCUploadAsSignedInStaff(t *testing.T) {
	f, _ := newOIDCFixture(t)
	c := f.browser("")
	if status, body, _ := c.callback(c.logIn(c.startOIDC(), "tea", "pw-tea")); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d:\n%s", status, body)
	}
	c.get("/ui/lessons/new") // the CSRF token of the session
	// The UI hands the upload to the API in-process as this user, who has no API token.
	resp := c.tus("POST", "/ui/uploads", true, map[string]string{"Upload-Length": "1000", "Upload-Metadata": videoMetadata}, nil)
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/uploads/") {
		t.Fatalf("tus create as OpenID user = %d %q: %s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(resp))
	}
}

func TestOIDCRefusals(t *testing.T) {
	f, p := newOIDCFixture(t)
	signedOut := func(t *testing.T, c *client) {
		t.Helper()
		if status, _ := c.get("/ui/lessons"); status != http.StatusSeeOther {
			t.Errorf("lessons after a refused sign-in = %d, want 303 to the sign-in page", status)
		}
	}

	t.Run("no role", func(t *testing.T) {
		c := f.browser("")
		status, body, _ := c.callback(c.logIn(c.startOIDC(), "nobody", "pw-nobody"))
		if status != http.StatusForbidden || !strings.Contains(body, "has no Relais role") {
			t.Errorf("callback of a user without a role = %d:\n%s", status, body)
		}
		signedOut(t, c)
		if _, err := f.store.StaffUser(context.Background(), relais.StaffUserID(p.Issuer, "sub-nobody")); relais.ErrorCode(err) != relais.EUNAUTHORIZED {
			t.Errorf("a refused person was stored: err = %v", err)
		}
	})

	t.Run("state tampered", func(t *testing.T) {
		c := f.browser("")
		back := c.logIn(c.startOIDC(), "ann", "pw-ann")
		q := back.Query()
		q.Set("state", q.Get("state")+"x")
		back.RawQuery = q.Encode()
		status, body, _ := c.callback(back)
		if status != http.StatusForbidden || !strings.Contains(body, "did not come from the sign-in you started") {
			t.Errorf("callback with a changed state = %d:\n%s", status, body)
		}
		signedOut(t, c)
	})

	t.Run("callback replayed in another browser", func(t *testing.T) {
		victim, attacker := f.browser(""), f.browser("")
		back := attacker.logIn(attacker.startOIDC(), "ann", "pw-ann")
		victim.startOIDC() // the victim has a sign-in of their own under way
		status, body, _ := victim.callback(back)
		if status != http.StatusForbidden {
			t.Errorf("another browser's callback = %d, want 403:\n%s", status, body)
		}
		signedOut(t, victim)
		fresh := f.browser("") // no sign-in under way at all
		if status, _, _ := fresh.callback(back); status != http.StatusBadRequest {
			t.Errorf("callback without a sign-in under way = %d, want 400", status)
		}
	})

	t.Run("callback used twice", func(t *testing.T) {
		c := f.browser("")
		back := c.logIn(c.startOIDC(), "ann", "pw-ann")
		if status, body, _ := c.callback(back); status != http.StatusSeeOther {
			t.Fatalf("first callback = %d:\n%s", status, body)
		}
		c.postForm("/ui/signout", nil)
		if status, _, _ := c.callback(back); status != http.StatusBadRequest {
			t.Errorf("second use of a callback = %d, want 400", status)
		}
	})

	t.Run("nonce mismatch", func(t *testing.T) {
		// The browser's flow cookie is resealed (with the server's key, as only the server can) with
		// another nonce: state and PKCE match, the provider issues its ID token, and the nonce in it is
		// not the flow's.
		c := f.browser("")
		back := c.logIn(c.startOIDC(), "ann", "pw-ann")
		srvURL, _ := url.Parse(f.srv.URL + "/ui/")
		s := newSessions([]byte(uiSecret))
		var flow oidcFlow
		req := &http.Request{Header: http.Header{}}
		for _, ck := range c.hc.Jar.Cookies(srvURL) {
			req.AddCookie(ck)
		}
		if !s.openAs(req, oidcCookie, &flow) {
			t.Fatal("no flow cookie in the browser")
		}
		flow.Nonce = randomToken()
		c.hc.Jar.SetCookies(srvURL, []*http.Cookie{{Name: oidcCookie, Value: s.sealAs(oidcCookie, flow), Path: "/ui/"}})
		status, body, _ := c.callback(back)
		if status != http.StatusForbidden || !strings.Contains(body, "did not come from the sign-in you started") {
			t.Errorf("callback whose ID token has another nonce = %d:\n%s", status, body)
		}
		signedOut(t, c)
	})

	t.Run("flow cookie forged", func(t *testing.T) {
		c := f.browser("")
		back := c.logIn(c.startOIDC(), "ann", "pw-ann")
		srvURL, _ := url.Parse(f.srv.URL + "/ui/")
		other := newSessions([]byte("not the server's secret"))
		forged := other.sealAs(oidcCookie, oidcFlow{State: back.Query().Get("state"), Nonce: "n", Verifier: "v", Next: "/ui/lessons",
			Expires: time.Now().Add(time.Minute)})
		c.hc.Jar.SetCookies(srvURL, []*http.Cookie{{Name: oidcCookie, Value: forged, Path: "/ui/"}})
		if status, _, _ := c.callback(back); status != http.StatusBadRequest {
			t.Errorf("callback with a flow cookie sealed by another key = %d, want 400", status)
		}
		signedOut(t, c)
	})
}

func TestOIDCSignOutEndsProviderSession(t *testing.T) {
	f, p := newOIDCFixture(t)
	c := f.browser("")
	if status, body, _ := c.callback(c.logIn(c.startOIDC(), "mo", "pw-mo")); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d:\n%s", status, body)
	}
	c.get("/ui/lessons")
	req, _ := http.NewRequest("POST", f.srv.URL+"/ui/signout", strings.NewReader(url.Values{"csrf": {c.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	end, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(end.String(), p.Issuer) {
		t.Fatalf("sign-out = %d to %q, want the provider's end_session_endpoint", resp.StatusCode, resp.Header.Get("Location"))
	}
	q := end.Query()
	if q.Get("id_token_hint") == "" || q.Get("client_id") != oidcprovider.ClientID || q.Get("post_logout_redirect_uri") != f.srv.URL+"/ui/signin" {
		t.Errorf("end-session query = %v", q)
	}
	if status, _ := c.get("/ui/lessons"); status != http.StatusSeeOther {
		t.Errorf("lessons after sign-out = %d, want 303 to the sign-in page", status)
	}
	// The provider accepts the ID token as the hint of whose session to end (the example provider has
	// no registered sign-out return address, so it is asked without one and shows its own page).
	q.Del("post_logout_redirect_uri")
	end.RawQuery = q.Encode()
	resp, err = c.hc.Get(end.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "/logged-out") {
		t.Errorf("provider's end-session = %d to %q, want its signed-out page", resp.StatusCode, loc)
	}

	// A user who signed in with a token signs out locally only.
	tc := f.browser("a")
	req, _ = http.NewRequest("POST", f.srv.URL+"/ui/signout", strings.NewReader(url.Values{"csrf": {tc.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = tc.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/ui/signin" {
		t.Errorf("token user's sign-out goes to %q, want /ui/signin", loc)
	}
}

func TestParseRoleMap(t *testing.T) {
	got, err := ParseRoleMap("relais-admin=admin, relais-media=media,teacher=teacher,")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]relais.Role{"relais-admin": relais.RoleAdmin, "relais-media": relais.RoleMedia, "teacher": relais.RoleTeacher}
	if len(got) != len(want) {
		t.Fatalf("ParseRoleMap = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ParseRoleMap[%q] = %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"x=root", "=admin", "admin"} {
		if _, err := ParseRoleMap(bad); err == nil {
			t.Errorf("ParseRoleMap(%q) accepted", bad)
		}
	}
	o := &oidcClient{cfg: OIDCConfig{Roles: want}}
	for claim, role := range map[string]relais.Role{"teacher": relais.RoleTeacher, "nobody": ""} {
		if got := o.role(claim); got != role {
			t.Errorf("role(%q) = %q, want %q", claim, got, role)
		}
	}
	if got := o.role([]any{"teacher", "relais-admin", "x"}); got != relais.RoleAdmin {
		t.Errorf("role of several groups = %q, want the strongest, admin", got)
	}
}
