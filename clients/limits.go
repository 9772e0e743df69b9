package clients

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/httprate"
)

// Rule allows Requests per span Per to each client; zero Requests: no limit.
type Rule struct {
	Requests int
	Per      time.Duration
}

// ParseRule reads a rule written "REQUESTS/SPAN" ("20/1m", "500/1s"); "0" or "off" is no limit.
func ParseRule(s string) (Rule, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "off" {
		return Rule{}, nil
	}
	n, span, ok := strings.Cut(s, "/")
	req, err := strconv.Atoi(n)
	if !ok || err != nil || req <= 0 {
		return Rule{}, fmt.Errorf("rate limit %q: write REQUESTS/SPAN, e.g. 20/1m, or off", s)
	}
	per, err := time.ParseDuration(span)
	if err != nil || per < time.Second {
		return Rule{}, fmt.Errorf("rate limit %q: the span is a Go duration of at least 1s (1s, 1m, 1h)", s)
	}
	return Rule{Requests: req, Per: per}, nil
}

func (r Rule) String() string {
	if r.Requests == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Requests, r.Per)
}

// Limits are the per-client rules of the public endpoints.
type Limits struct {
	SignIn      Rule // signing in: /ui/signin but for showing its form, what lies under it, /ui/oidc/
	Family      Rule // the family lesson pages and their files, /l/
	Unsubscribe Rule // unsubscribe links, /u/
	Webhooks    Rule // provider callbacks, /webhooks/: above the provider's own callback rate
}

// DefaultLimits are generous to a household or a school behind one address, and stop a script.
func DefaultLimits() Limits {
	return Limits{
		SignIn:      Rule{Requests: 20, Per: time.Minute},
		Family:      Rule{Requests: 120, Per: time.Minute},
		Unsubscribe: Rule{Requests: 30, Per: time.Minute},
		Webhooks:    Rule{Requests: 3000, Per: time.Second},
	}
}

// Limit wraps next: a request to a limited endpoint beyond its client's share gets 429 Too Many
// Requests with Retry-After (seconds); others pass untouched. Showing the sign-in form (GET
// /ui/signin) is not counted: signing in, what lies under /ui/signin/ and the OpenID Connect
// sign-in's steps (/ui/oidc/) are, in one share.
func (rs *Resolver) Limit(l Limits, next http.Handler) http.Handler {
	type class struct {
		match func(r *http.Request) bool
		lim   *httprate.RateLimiter
	}
	under := func(prefix string) func(r *http.Request) bool {
		return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, prefix) }
	}
	signIn := func(r *http.Request) bool {
		form := r.URL.Path == "/ui/signin" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
		return strings.HasPrefix(r.URL.Path, "/ui/signin") && !form || strings.HasPrefix(r.URL.Path, "/ui/oidc/")
	}
	var classes []class
	for _, c := range []struct {
		match func(r *http.Request) bool
		rule  Rule
	}{{signIn, l.SignIn}, {under("/l/"), l.Family}, {under("/u/"), l.Unsubscribe}, {under("/webhooks/"), l.Webhooks}} {
		if c.rule.Requests > 0 {
			classes = append(classes, class{c.match, httprate.NewRateLimiter(c.rule.Requests, c.rule.Per,
				httprate.WithLimitHandler(tooMany),
				// Only Retry-After: the family page's responses stay the same bytes for every client,
				// fit for a shared cache.
				httprate.WithResponseHeaders(httprate.ResponseHeaders{RetryAfter: "Retry-After"}))})
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range classes {
			if c.match(r) {
				if c.lim.RespondOnLimit(w, r, rs.Addr(r).String()) {
					return
				}
				break
			}
		}
		next.ServeHTTP(w, r)
	})
}

func tooMany(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprintf(w, "Too many requests from your address; retry after %s seconds.\n", w.Header().Get("Retry-After"))
}
