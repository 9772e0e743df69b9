package smtpsink

import (
	"net/smtp"
	"strings"
	"testing"
)

// TestSink: messages sent with net/smtp over one connection are accepted and counted, a line that
// starts with a dot (stuffed by the client) and a line longer than the sink's buffer do not end the data
// early, and the connection goes on with the next message.
func TestSink(t *testing.T) {
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bodies := []string{
		"Subject: one\r\n\r\nhello\r\n.\r\n..\r\nstill the body\r\n",
		"Subject: two\r\n\r\n" + strings.Repeat("x", 200<<10) + "\r\n.\r\nend\r\n",
	}
	var want int64
	for _, body := range bodies {
		if err := c.Mail("a@example.org"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt("b@example.org"); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("end of data: %v", err)
		}
		// On the wire each line starting with a dot gets one more.
		want += int64(len(body) + strings.Count("\n"+body, "\n."))
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if got := s.Messages(); got != 2 {
		t.Errorf("%d messages, want 2", got)
	}
	if got := s.Bytes(); got != want {
		t.Errorf("%d bytes, want %d", got, want)
	}
	if err := c.Rcpt("c@example.org"); err == nil {
		t.Error("the connection is still open after QUIT")
	}
}
