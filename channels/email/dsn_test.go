package email

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		file string
		want []Bounce
	}{
		{"postfix-hard.eml", []Bounce{{
			Recipient: "nobody@example.org", Action: "failed", Status: "5.1.1", Hard: true,
			Diagnostic: "smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
			MessageID:  "<relais.1234.97bfeec08843e0323b73@relais.example>",
		}}},
		{"delayed.eml", []Bounce{{
			Recipient: "full@example.net", Action: "delayed", Status: "4.2.2", Hard: false,
			Diagnostic: "smtp; 452 4.2.2 The email account that you tried to reach is over quota.",
			MessageID:  "<relais.77.aa@relais.example>",
		}}},
		{"exchange-multi-base64.eml", []Bounce{
			{Recipient: "gone@example.com", Action: "failed", Status: "5.2.1", Hard: true, Diagnostic: "smtp;550 5.2.1 mailbox disabled"},
			{Recipient: "ok@example.com", Action: "delivered", Status: "2.0.0"},
			{Recipient: "soft@example.com", Action: "failed", Status: "4.4.7"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "dsn", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseDSN(f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	t.Run("postfix bounce leads back to its delivery", func(t *testing.T) {
		f, _ := os.Open(filepath.Join("testdata", "dsn", "postfix-hard.eml"))
		defer f.Close()
		bs, err := ParseDSN(f)
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := DeliveryIDFromMessageID(bs[0].MessageID); !ok || id != 1234 {
			t.Errorf("delivery id %d, %v", id, ok)
		}
	})
}

func TestParseDSNRejects(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "dsn", "not-a-dsn.eml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ParseDSN(f); !errors.Is(err, ErrNotDSN) {
		t.Errorf("plain reply: err = %v, want ErrNotDSN", err)
	}
	other := "Content-Type: multipart/report; report-type=disposition-notification; boundary=b\r\n\r\n--b--\r\n"
	if _, err := ParseDSN(strings.NewReader(other)); !errors.Is(err, ErrNotDSN) {
		t.Errorf("read receipt: err = %v, want ErrNotDSN", err)
	}
	noStatus := "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"
	if _, err := ParseDSN(strings.NewReader(noStatus)); !errors.Is(err, ErrNotDSN) {
		t.Errorf("report without status part: err = %v, want ErrNotDSN", err)
	}
	if _, err := ParseDSN(strings.NewReader("")); err == nil {
		t.Errorf("empty input parsed")
	}
}
