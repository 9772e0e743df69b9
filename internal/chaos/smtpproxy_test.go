package chaos

import (
	"context"
	"fmt"
	"net/smtp"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-edu/relais/internal/mailpit"
)

func startMailpit(t *testing.T) *mailpit.Server {
	t.Helper()
	if _, err := mailpit.Binary(); err != nil {
		t.Fatalf("%v: scripts/test.sh installs mailpit", err)
	}
	mp, err := mailpit.Start(context.Background(), filepath.Join(t.TempDir(), "mailpit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mp.Stop(context.Background()) })
	return mp
}

func sendMail(addr, to, subject string) error {
	body := fmt.Sprintf("From: relais@relais.example\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n", to, subject,
		strings.Repeat("Une fraction représente une partie d'un tout.\r\n", 200))
	return smtp.SendMail(addr, nil, "relais@relais.example", []string{to}, []byte(body))
}

// TestSMTPProxyCutsMidData: a cut message is an error for the client and nothing for the server;
// messages that are not cut pass whole, on new and reused connections.
func TestSMTPProxyCutsMidData(t *testing.T) {
	mp := startMailpit(t)
	p, err := StartSMTPProxy(mp.SMTPAddr, 1, 1, 1) // cut the first message, then none
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	if err := sendMail(p.Addr(), "a@example.org", "cut"); err == nil {
		t.Fatal("the cut message was sent without an error")
	}
	if n := len(p.Cuts()); n != 1 {
		t.Fatalf("%d cuts, want 1", n)
	}
	if err := sendMail(p.Addr(), "b@example.org", "whole"); err != nil {
		t.Fatalf("a message after the cut: %v", err)
	}
	// Two messages on one connection, the second after the first's end of data.
	c, err := smtp.Dial(p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"c@example.org", "d@example.org"} {
		if err := c.Mail("relais@relais.example"); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(to); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "To: %s\r\nSubject: reused\r\n\r\n.leading dot, escaped by the client\r\n", to)
		if err := w.Close(); err != nil {
			t.Fatalf("%s: %v", to, err)
		}
	}
	c.Quit()

	ctx := context.Background()
	var got []Receipt
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < 3 && time.Now().Before(deadline) {
		if got, err = mailpitReceipts(ctx, mp.APIURL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a cut message that was kept would show by now
	if got, err = mailpitReceipts(ctx, mp.APIURL); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, m := range got {
		seen[m.To]++
	}
	want := map[string]int{"b@example.org": 1, "c@example.org": 1, "d@example.org": 1}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("mailpit holds %v, want %v (nothing for the cut a@example.org)", seen, want)
	}
}

// TestSMTPProxyShare: with a share, about that many messages are cut, and the rest arrive.
func TestSMTPProxyShare(t *testing.T) {
	mp := startMailpit(t)
	p, err := StartSMTPProxy(mp.SMTPAddr, 0.3, 0, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	failed := 0
	const n = 40
	for i := range n {
		if err := sendMail(p.Addr(), fmt.Sprintf("f%02d@example.org", i), "share"); err != nil {
			failed++
		}
	}
	cuts := len(p.Cuts())
	if failed != cuts || cuts == 0 || cuts == n {
		t.Fatalf("%d sends failed, %d cuts; want equal, between 0 and %d", failed, cuts, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	total := 0
	for time.Now().Before(deadline) {
		if total, err = mailpit.Total(context.Background(), mp.APIURL); err != nil {
			t.Fatal(err)
		}
		if total >= n-cuts {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if total != n-cuts {
		t.Errorf("mailpit holds %d messages, want %d", total, n-cuts)
	}
}
