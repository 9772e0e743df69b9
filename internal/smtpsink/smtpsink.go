// Package smtpsink is an SMTP server that accepts every message and discards it: a relay faster than
// mailpit (which parses and stores each message), so that a benchmark of a sender is not bound by
// its server. It speaks enough of RFC 5321 for go-mail and net/smtp (EHLO, MAIL, RCPT, DATA with
// dot-stuffing, RSET, NOOP, QUIT) over plain TCP.
package smtpsink

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is a running sink. Close stops it and waits for its connections to end.
type Server struct {
	ln       net.Listener
	wg       sync.WaitGroup
	messages atomic.Int64
	bytes    atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

// Listen starts a sink on addr ("127.0.0.1:0" for a free port).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is the address the sink listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Messages is how many messages the sink has accepted; Bytes how many bytes of message data.
func (s *Server) Messages() int64 { return s.messages.Load() }
func (s *Server) Bytes() int64    { return s.bytes.Load() }

// Close stops listening, closes the open connections and waits for them.
func (s *Server) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serve(c)
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) serve(c net.Conn) {
	r := bufio.NewReaderSize(c, 64<<10)
	w := bufio.NewWriter(c)
	reply := func(line string) bool {
		w.WriteString(line)
		w.WriteString("\r\n")
		return w.Flush() == nil
	}
	if !reply("220 sink.relais.invalid ESMTP") {
		return
	}
	rcpts := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.TrimRight(line, "\r\n"))
		var ok bool
		switch {
		case strings.HasPrefix(verb, "EHLO"):
			ok = reply("250-sink.relais.invalid\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SMTPUTF8\r\n250 SIZE 52428800")
		case strings.HasPrefix(verb, "HELO"):
			ok = reply("250 sink.relais.invalid")
		case strings.HasPrefix(verb, "MAIL FROM:"):
			rcpts = 0
			ok = reply("250 2.1.0 OK")
		case strings.HasPrefix(verb, "RCPT TO:"):
			rcpts++
			ok = reply("250 2.1.5 OK")
		case verb == "DATA":
			if rcpts == 0 {
				ok = reply("503 5.5.1 No valid recipients")
				break
			}
			if !reply("354 End data with <CR><LF>.<CR><LF>") {
				return
			}
			n, err := discardData(r)
			if err != nil {
				return
			}
			s.bytes.Add(n)
			s.messages.Add(1)
			rcpts = 0
			ok = reply("250 2.0.0 OK discarded")
		case verb == "RSET":
			rcpts = 0
			ok = reply("250 2.0.0 OK")
		case verb == "NOOP":
			ok = reply("250 2.0.0 OK")
		case verb == "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			ok = reply("502 5.5.2 Command not recognized")
		}
		if !ok {
			return
		}
	}
}

// discardData reads message data up to and including the line ".\r\n" and returns its size. Lines
// are read in place (ReadSlice), without a copy; a line longer than the buffer comes in pieces.
func discardData(r *bufio.Reader) (int64, error) {
	var n int64
	lineStart := true
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return n, err
		}
		if lineStart && len(line) == 3 && string(line) == ".\r\n" {
			return n, nil
		}
		n += int64(len(line))
		lineStart = err == nil // a piece of a long line does not end it
	}
}
