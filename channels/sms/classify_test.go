package sms

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twilio/twilio-go/client"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

const frNumber = "+33612345678"

func TestClassify(t *testing.T) {
	rest := func(status, code int) error {
		return &client.TwilioRestError{Status: status, Code: code, Message: "The 'To' number " + frNumber + " is not valid"}
	}
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter time.Duration
		want       channels.SendError
		wrote      bool
	}{
		{"429 too many requests", rest(429, 20429), 429, 3 * time.Second, channels.SendError{Kind: channels.Throttled, Code: "20429", RetryAfter: 3 * time.Second}, false},
		{"20429 without status", rest(0, 20429), 429, 0, channels.SendError{Kind: channels.Throttled, Code: "20429"}, false},
		{"429 other code", rest(429, 14107), 429, time.Second, channels.SendError{Kind: channels.Throttled, Code: "14107", RetryAfter: time.Second}, false},
		{"500", rest(500, 20500), 500, 0, channels.SendError{Kind: channels.Retryable, Code: "20500"}, false},
		{"503", rest(503, 0), 503, 0, channels.SendError{Kind: channels.Retryable, Code: "503"}, false},
		{"30003 unreachable handset", rest(400, 30003), 400, 0, channels.SendError{Kind: channels.Retryable, Code: "30003"}, false},
		{"21211 invalid To", rest(400, 21211), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "21211", Contact: relais.ContactInvalid}, false},
		{"30005 unknown number", rest(400, 30005), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "30005", Contact: relais.ContactInvalid}, false},
		{"21614 not a mobile", rest(400, 21614), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "21614", Contact: relais.ContactLandline}, false},
		{"30006 landline", rest(400, 30006), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "30006", Contact: relais.ContactLandline}, false},
		{"21610 opted out", rest(400, 21610), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "21610", Contact: relais.ContactOptedOut}, false},
		{"21617 body too long", rest(400, 21617), 400, 0, channels.SendError{Kind: channels.Permanent, Code: "21617"}, false},
		{"20003 bad credentials", rest(401, 20003), 401, 0, channels.SendError{Kind: channels.Permanent, Code: "20003"}, false},
		{"v1 error 429", &client.RestErrorV1{HttpStatusCode: 429, Code: 20429}, 429, 2 * time.Second, channels.SendError{Kind: channels.Throttled, Code: "20429", RetryAfter: 2 * time.Second}, false},
		{"network error", netErr, 0, 0, channels.SendError{Kind: channels.Retryable}, false},
		{"connection lost after the request", errors.New("EOF"), 0, 0, channels.SendError{Kind: channels.Retryable, Ambiguous: true}, true},
		{"undecodable 201", errors.New("unexpected end of JSON input"), 201, 0, channels.SendError{Kind: channels.Retryable, Code: "201", Ambiguous: true}, true},
		{"500 after the request", rest(500, 20500), 500, 0, channels.SendError{Kind: channels.Retryable, Code: "20500"}, true},
		{"undecodable 502 page", errors.New("error decoding the response for an HTTP error code: 502"), 502, 0, channels.SendError{Kind: channels.Retryable, Code: "502"}, false},
		{"undecodable 429 page", errors.New("error decoding"), 429, 5 * time.Second, channels.SendError{Kind: channels.Throttled, Code: "429", RetryAfter: 5 * time.Second}, false},
		{"undecodable 404 page", errors.New("error decoding"), 404, 0, channels.SendError{Kind: channels.Permanent, Code: "404"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.err, call{status: tt.status, retryAfter: tt.retryAfter, wrote: tt.wrote})
			var rest *client.TwilioRestError
			if errors.As(tt.err, &rest) {
				if !errors.As(got, &rest) {
					t.Errorf("classify hides the *client.TwilioRestError")
				}
				if strings.Contains(got.Error(), frNumber) {
					t.Errorf("error text %q quotes the phone number", got.Error())
				}
			} else if !errors.Is(got, tt.err) {
				t.Errorf("classify does not wrap the original error")
			}
			if diff := cmp.Diff(tt.want, *got, cmpopts.IgnoreFields(channels.SendError{}, "Err")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"7", 7 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
