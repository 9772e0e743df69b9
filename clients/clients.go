// Package clients tells who is calling and holds each caller to its share: the client's address (the
// connection's own, or, behind a configured trusted proxy, the one the proxy names in
// X-Forwarded-For) and per-client rate limits on the public endpoints (sign-in, the family page,
// unsubscribe links and provider webhooks).
package clients

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds a request's client address.
type Resolver struct {
	trusted []netip.Prefix
}

// NewResolver returns a Resolver that believes X-Forwarded-For only from the trusted proxies.
func NewResolver(trusted []netip.Prefix) *Resolver { return &Resolver{trusted: trusted} }

// ParseTrusted reads a comma-separated list of addresses and CIDR prefixes ("10.0.0.0/8, 192.0.2.7").
func ParseTrusted(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an address nor a CIDR prefix", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (rs *Resolver) isTrusted(a netip.Addr) bool {
	for _, p := range rs.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr returns the client address of r: the connection's peer, unless the peer is a trusted proxy;
// then X-Forwarded-For is read from the right, skipping trusted proxies, and the first address no
// proxy of ours added is the client's (a client cannot forge its way past the last trusted hop).
func (rs *Resolver) Addr(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if !peer.IsValid() || !rs.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client // a malformed hop: the last good one is as far as we can trust
		}
		client = a.Unmap()
		if !rs.isTrusted(client) {
			return client
		}
	}
	return client
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

type addrKey struct{}

// Handler puts each request's client address in its context, for AddrOf.
func (rs *Resolver) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), addrKey{}, rs.Addr(r))))
	})
}

// AddrOf returns the client address of r as Handler resolved it; without Handler, the connection's
// peer. It is "" when there is none.
func AddrOf(r *http.Request) string {
	a, ok := r.Context().Value(addrKey{}).(netip.Addr)
	if !ok {
		a = remoteAddr(r)
	}
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
