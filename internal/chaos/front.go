package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Front is the round-robin load balancer of a cluster run: each request goes to the next API process
// in turn, with no stickiness, so consecutive requests of one tus upload land on different processes.
// A process that refuses the connection (killed) is skipped: the request goes to the next one, as a
// load balancer's health check would have it. Its answers carry the index of the process that served
// them in BackendHeader.
type Front struct {
	backends []string // http://host:port
	next     atomic.Uint64
	ln       net.Listener
	srv      *http.Server
	hc       *http.Client

	mu     sync.Mutex
	served []Served
}

// Served is one request the front passed on.
type Served struct {
	Method, Path string
	Backend      int // index in the backends, -1 when none answered
}

// BackendHeader names, in the front's answers, the index of the API process that served the request.
const BackendHeader = "X-Relais-Front-Backend"

// maxFrontBody bounds the request bodies the front holds to send again to another process.
const maxFrontBody = 256 << 20

// StartFront listens on a free loopback port and passes requests to backends in turn.
func StartFront(backends []string) (*Front, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Front{backends: backends, ln: ln,
		hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	f.srv = &http.Server{Handler: f}
	go f.srv.Serve(ln)
	return f, nil
}

// URL is the front's base URL.
func (f *Front) URL() string { return "http://" + f.ln.Addr().String() }

// Close stops the front.
func (f *Front) Close() error { return f.srv.Close() }

// Served lists the requests passed on so far, in order.
func (f *Front) Served() []Served {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Served(nil), f.served...)
}

func (f *Front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The body is held so that a request refused at the connection can go to the next process.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxFrontBody+1))
	if err != nil || len(body) > maxFrontBody {
		http.Error(w, "front: request body unreadable or too large", http.StatusBadRequest)
		return
	}
	start := int(f.next.Add(1)-1) % len(f.backends)
	var lastErr error
	for i := range f.backends {
		b := (start + i) % len(f.backends)
		out, err := http.NewRequestWithContext(r.Context(), r.Method, f.backends[b]+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out.Header = r.Header.Clone()
		out.Header.Set("X-Forwarded-For", clientHost(r.RemoteAddr))
		out.ContentLength = int64(len(body))
		resp, err := f.hc.Do(out)
		if err != nil {
			lastErr = err
			if refused(err) {
				continue // the process is down: nothing was sent, the next one takes it
			}
			break
		}
		f.record(r, b)
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.Header().Set(BackendHeader, strconv.Itoa(b))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	f.record(r, -1)
	http.Error(w, fmt.Sprintf("front: no API process answered: %v", lastErr), http.StatusBadGateway)
}

func (f *Front) record(r *http.Request, backend int) {
	f.mu.Lock()
	f.served = append(f.served, Served{Method: r.Method, Path: r.URL.Path, Backend: backend})
	f.mu.Unlock()
}

// refused reports whether err is a connection the process refused: it never saw the request.
func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

func clientHost(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
