package email

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// fakeRelay is an SMTP server speaking the real wire protocol, for answers mailpit cannot be made to
// give (550 5.1.1 for one recipient, a dropped connection). rcpt decides the reply to RCPT TO and
// dataEnd the reply after the message data, from the recipient's address; "" means "250 2.0.0 OK",
// "drop" closes the connection, "stall" never answers.
type fakeRelay struct {
	ln      net.Listener
	rcpt    func(addr string) string
	dataEnd func(addr string) string
	conns   atomic.Int32
	// hangUpAfterData closes the connection right after accepting a message, as a relay whose idle
	// timeout expired would.
	hangUpAfterData atomic.Bool
	// dataStarted, when set, gets the recipient of each message whose content the relay began to
	// take (DATA answered 354); abandoned counts messages whose connection ended before their end.
	dataStarted chan string
	abandoned   atomic.Int32
	wg          sync.WaitGroup

	mu       sync.Mutex
	accepted []string              // recipients whose message was accepted
	open     map[net.Conn]struct{} // connections being served
	quits    int                   // connections the client ended with QUIT
}

func newFakeRelay(t testing.TB, rcpt, dataEnd func(string) string) *fakeRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRelay{ln: ln, rcpt: rcpt, dataEnd: dataEnd, open: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			f.mu.Lock()
			f.open[c] = struct{}{}
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.serve(c)
				f.mu.Lock()
				delete(f.open, c)
				f.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeRelay) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

func (f *fakeRelay) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	reply := func(s string) bool {
		if s == "drop" {
			return false
		}
		if s == "stall" { // say nothing until the client goes away
			io.Copy(io.Discard, r)
			return false
		}
		w.WriteString(s + "\r\n")
		return w.Flush() == nil
	}
	if !reply("220 fake.test ESMTP") {
		return
	}
	var rcpt string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(verb, "EHLO"):
			if !reply("250-fake.test\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SIZE 10485760") {
				return
			}
		case strings.HasPrefix(verb, "HELO"):
			reply("250 fake.test")
		case strings.HasPrefix(verb, "MAIL FROM:"):
			rcpt = ""
			reply("250 2.1.0 OK")
		case strings.HasPrefix(verb, "RCPT TO:"):
			addr := strings.Trim(strings.TrimSpace(line[len("RCPT TO:"):]), "<>")
			if i := strings.IndexByte(addr, '>'); i >= 0 {
				addr = addr[:i]
			}
			ans := ""
			if f.rcpt != nil {
				ans = f.rcpt(addr)
			}
			if ans == "" {
				ans = "250 2.1.5 OK"
				rcpt = addr
			}
			if !reply(ans) {
				return
			}
		case verb == "DATA":
			if rcpt == "" {
				reply("503 5.5.1 No valid recipients")
				continue
			}
			reply("354 Go ahead")
			if f.dataStarted != nil {
				f.dataStarted <- rcpt
			}
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					f.abandoned.Add(1) // a message without its end is not one
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			ans := ""
			if f.dataEnd != nil {
				ans = f.dataEnd(rcpt)
			}
			if ans == "" {
				ans = "250 2.0.0 OK queued"
				f.mu.Lock()
				f.accepted = append(f.accepted, rcpt)
				f.mu.Unlock()
			}
			// Read before the reply: once the client has it, the test may clear the flag.
			hangUp := f.hangUpAfterData.Load()
			if !reply(ans) || hangUp {
				return
			}
		case verb == "RSET":
			rcpt = ""
			reply("250 2.0.0 OK")
		case verb == "NOOP":
			reply("250 2.0.0 OK")
		case verb == "QUIT":
			f.mu.Lock()
			f.quits++
			f.mu.Unlock()
			reply("221 2.0.0 Bye")
			return
		default:
			reply("502 5.5.2 Command not recognized")
		}
	}
}

// dropAll closes every open connection, as a relay that restarts does.
func (f *fakeRelay) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.open {
		c.Close()
	}
}

// openConns is how many connections are open, and quitCount how many ended with QUIT.
func (f *fakeRelay) openConns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.open)
}

func (f *fakeRelay) quitCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.quits
}

func (f *fakeRelay) acceptedRcpts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accepted...)
}
