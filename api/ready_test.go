package api

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/relais-edu/relais/internal/testenv"
	"github.com/relais-edu/relais/links"
	"github.com/relais-edu/relais/store/postgres"
	"github.com/relais-edu/relais/templates"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// TestReadyzWhenPostgresGoesDown: /readyz answers 200 while PostgreSQL answers and 503 once it stops
// answering (the connections to it cut, new ones refused), without waiting longer than its own deadline.
func TestReadyzWhenPostgresGoesDown(t *testing.T) {
	u, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, u.Host)
	u.Host = proxy.addr
	db, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tmpl, err := templates.Load()
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, &fakeQueue{}, links.NewSigner([]byte("0123456789abcdef0123"), "http://relais.test"), tmpl, DefaultConfig(),
		slog.New(slog.DiscardHandler), nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	readyz := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := readyz(); got != 200 {
		t.Fatalf("/readyz with PostgreSQL up: %d, want 200", got)
	}
	proxy.stop()
	if got := readyz(); got != 503 {
		t.Errorf("/readyz with PostgreSQL down: %d, want 503", got)
	}
}

// tcpProxy forwards connections to a server until stopped, which cuts them and closes its port.
type tcpProxy struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(p.stop)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
