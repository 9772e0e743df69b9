package fanout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
)

// rules are the default policy over Relais' channels, none of them configured.
var rules = New(channels.NewRegistry(&postal.Channel{}).Know(email.Rules{}, sms.Rules{}, sms.ReminderRules{}))

func TestRoutes(t *testing.T) {
	full := relais.Household{Consent: true, Phone: "+33612345678", Email: "f@example.org", PostalAddress: "1 rue X\n75001 Paris"}
	with := func(p relais.Profile, edit func(*relais.Household)) relais.Household {
		h := full
		h.Profile = p
		if edit != nil {
			edit(&h)
		}
		return h
	}
	email := Route{Channel: relais.ChannelEmail}
	sms := Route{Channel: relais.ChannelSMS}
	post := Route{Channel: relais.ChannelPostal}
	tests := []struct {
		name string
		h    relais.Household
		want []Route
	}{
		{"broadband", with(relais.ProfileBroadband, nil), []Route{email}},
		{"mobile data", with(relais.ProfileMobileData, nil), []Route{email, sms}},
		{"sms only", with(relais.ProfileSMSOnly, nil), []Route{sms}},
		{"broadcast only with phone", with(relais.ProfileBroadcastOnly, nil), []Route{sms}},
		{"broadcast only without phone", with(relais.ProfileBroadcastOnly, func(h *relais.Household) { h.Phone = "" }), nil},
		{"offline", with(relais.ProfileOffline, nil), []Route{post}},
		{"broadband without email falls back to sms", with(relais.ProfileBroadband, func(h *relais.Household) { h.Email = "" }), []Route{sms}},
		{"broadband with bounced email and no phone falls back to post",
			with(relais.ProfileBroadband, func(h *relais.Household) { h.EmailStatus = relais.ContactInvalid; h.Phone = "" }), []Route{post}},
		{"mobile data without email: sms once", with(relais.ProfileMobileData, func(h *relais.Household) { h.Email = "" }), []Route{sms}},
		{"sms only on a landline falls back to post", with(relais.ProfileSMSOnly, func(h *relais.Household) { h.PhoneStatus = relais.ContactLandline }), []Route{post}},
		{"sms opt-out is skipped, no fallback", with(relais.ProfileSMSOnly, func(h *relais.Household) { h.SMSOptOut = true }),
			[]Route{{Channel: relais.ChannelSMS, Skip: "opted out of sms"}}},
		{"email opt-out on mobile data still gets sms", with(relais.ProfileMobileData, func(h *relais.Household) { h.EmailOptOut = true }),
			[]Route{{Channel: relais.ChannelEmail, Skip: "opted out of email"}, sms}},
		{"no consent", with(relais.ProfileMobileData, func(h *relais.Household) { h.Consent = false }),
			[]Route{{Channel: relais.ChannelEmail, Skip: "no consent to be contacted"}}},
		{"removed from the roster", with(relais.ProfileMobileData, func(h *relais.Household) { h.RemovedAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }),
			[]Route{{Channel: relais.ChannelEmail, Skip: "removed from the roster"}}},
		{"offline without address", with(relais.ProfileOffline, func(h *relais.Household) { h.PostalAddress = "" }),
			[]Route{{Channel: relais.ChannelPostal, Skip: "no usable phone, email or postal address"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, rules.Routes(tt.h)); diff != "" {
				t.Errorf("Routes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStillReachable(t *testing.T) {
	h := relais.Household{Consent: true, Phone: "+33612345678", Profile: relais.ProfileSMSOnly}
	if got := rules.StillReachable(h, relais.ChannelSMS); got != "" {
		t.Errorf("reachable household: %q", got)
	}
	h.SMSOptOut = true
	if got := rules.StillReachable(h, relais.ChannelSMS); got != "opted out of sms" {
		t.Errorf("opted out after planning: %q", got)
	}
	h.SMSOptOut, h.RemovedAt = false, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if got := rules.StillReachable(h, relais.ChannelSMS); got != "removed from the roster" {
		t.Errorf("removed from the roster after planning: %q", got)
	}
}

func TestStillReachableReminder(t *testing.T) {
	h := relais.Household{Consent: true, Phone: "+33612345678", Profile: relais.ProfileSMSOnly}
	if got := rules.StillReachable(h, relais.ChannelReminder); got != "" {
		t.Errorf("reachable household: %q", got)
	}
	h.SMSOptOut = true
	if got := rules.StillReachable(h, relais.ChannelReminder); got != "opted out of sms" {
		t.Errorf("a reminder after an SMS opt-out: %q", got)
	}
	h.SMSOptOut, h.PhoneStatus = false, relais.ContactLandline
	if got := rules.StillReachable(h, relais.ChannelReminder); got != "no usable reminder contact" {
		t.Errorf("a reminder to a landline: %q", got)
	}
}
