package chaos

import (
	"bytes"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"sync"
	"time"
)

// SMTPProxy forwards SMTP connections to an upstream server and cuts a share of them in the middle of
// DATA: after the client sent DATA, got 354 and sent part of the message, both sides are closed. The
// server never sees the terminating dot, so it keeps nothing; the client cannot know that.
type SMTPProxy struct {
	upstream string
	share    float64
	maxCuts  int
	ln       net.Listener
	wg       sync.WaitGroup

	mu     sync.Mutex
	rng    *mathrand.Rand
	cuts   []time.Time
	conns  map[net.Conn]struct{}
	closed bool
}

// StartSMTPProxy listens on 127.0.0.1 and forwards to upstream. share (0-1) of the messages are cut,
// at most maxCuts of them (0: no limit); seed makes the choice repeatable.
func StartSMTPProxy(upstream string, share float64, maxCuts int, seed uint64) (*SMTPProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtp proxy: %w", err)
	}
	p := &SMTPProxy{upstream: upstream, share: share, maxCuts: maxCuts, ln: ln,
		rng: mathrand.New(mathrand.NewPCG(seed, seed^0x5e7d)), conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *SMTPProxy) Addr() string { return p.ln.Addr().String() }

// Cuts returns when each cut happened.
func (p *SMTPProxy) Cuts() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.cuts...)
}

// Close stops listening, closes every connection and waits for the proxy's goroutines.
func (p *SMTPProxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *SMTPProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // a transient accept error (too many files)
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

// track registers conns for Close; it reports false when the proxy is closing.
func (p *SMTPProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *SMTPProxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
		c.Close()
	}
}

// decideCut reports whether the message starting now is to be cut.
func (p *SMTPProxy) decideCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.share <= 0 || (p.maxCuts > 0 && len(p.cuts) >= p.maxCuts) {
		return false
	}
	if p.rng.Float64() >= p.share {
		return false
	}
	p.cuts = append(p.cuts, time.Now())
	return true
}

// SMTP session states, as the proxy follows them.
const (
	stCommand  = iota // client commands
	stAwaiting        // the client sent DATA; the server's answer decides
	stData            // the message, up to CRLF.CRLF
)

// session follows one connection's state from both directions.
type session struct {
	mu    sync.Mutex
	state int
	cline []byte // the client's command line being read
	rline []byte // the server's reply line being read
	tail  []byte // the last bytes of the message, to find CRLF.CRLF across reads
	cut   bool   // this message is being cut
	sent  int    // bytes of this message forwarded
}

func (p *SMTPProxy) handle(client net.Conn) {
	up, err := net.DialTimeout("tcp", p.upstream, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, up) {
		client.Close()
		up.Close()
		return
	}
	defer p.untrack(client, up)
	s := &session{}
	done := make(chan struct{}, 2)
	go func() { // server to client: watch the answer to DATA
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 16<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				s.reply(buf[:n])
				if _, werr := client.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // client to server: commands and messages, cut when chosen
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				fwd, cut := s.request(buf[:n], p.decideCut)
				if fwd > 0 {
					if _, werr := up.Write(buf[:fwd]); werr != nil {
						return
					}
				}
				if cut {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	<-done // either side ended, or a cut: close both (deferred untrack)
}

var endOfData = []byte("\r\n.\r\n")

// request scans bytes from the client. It returns how many of them to forward and whether to cut the
// connection after forwarding them.
func (s *session) request(b []byte, decide func() bool) (fwd int, cut bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch s.state {
		case stCommand:
			if len(s.cline) < 1024 {
				s.cline = append(s.cline, c)
			}
			if c == '\n' {
				if bytes.EqualFold(bytes.TrimSpace(s.cline), []byte("DATA")) {
					s.state = stAwaiting
				}
				s.cline = s.cline[:0]
			}
		case stAwaiting, stData:
			// Bytes after DATA are the message (a client sends them once 354 came).
			if s.sent == 0 {
				s.cut = decide()
				s.tail = append(s.tail[:0], '\r', '\n') // the CRLF that ended the DATA line
			}
			if s.cut {
				// Forward part of what is here of the message (at least a byte, never its end), then cut.
				part := max(1, (len(b)-i)/2)
				return i + part, true
			}
			s.sent++
			s.tail = append(s.tail, c)
			if len(s.tail) > len(endOfData) {
				s.tail = s.tail[1:]
			}
			if bytes.Equal(s.tail, endOfData) {
				s.state, s.sent = stCommand, 0
				s.cline = s.cline[:0]
			}
		}
	}
	return len(b), false
}

// reply scans bytes from the server: the final line of the answer to DATA says whether a message
// follows (354) or not.
func (s *session) reply(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stAwaiting {
		s.rline = s.rline[:0]
		return
	}
	for _, c := range b {
		if len(s.rline) < 1024 {
			s.rline = append(s.rline, c)
		}
		if c != '\n' {
			continue
		}
		line := s.rline
		s.rline = s.rline[:0]
		if len(line) >= 4 && line[3] == '-' {
			continue // a continuation line
		}
		if len(line) >= 3 && string(line[:3]) == "354" {
			s.state, s.sent = stData, 0
		} else {
			s.state = stCommand
		}
		return
	}
}
