package sms_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels/sms"
	"github.com/relais-edu/relais/channels/sms/sandbox"
)

// TestReminderCallbacksNameTheirAiring: each airing re-arms a family's one reminder delivery, so a
// reminder's callback URL names the airing too; a late callback about the reminder of an earlier
// airing finds nothing and leaves the re-armed delivery as it is.
func TestReminderCallbacksNameTheirAiring(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	first := time.Date(2027, 5, 4, 10, 0, 0, 0, time.UTC)
	second := first.AddDate(0, 0, 7)
	d := relais.Delivery{ID: 9, LessonID: 1, HouseholdID: 19, Channel: relais.ChannelReminder, Occurrence: second.Unix()}
	r.store.put(d) // re-armed: no SID
	m := message(9, frMobile, "")
	m.Delivery, m.Lesson.Title = d, "Les fractions"
	m.Airing = &relais.Airing{Station: "France 4", Kind: relais.StationTV, Start: second}
	if _, err := r.ch.Reminders().Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	statusURL := r.relais.URL + sms.StatusPath
	want := statusURL + "?delivery_id=9&occurrence=" + strconv.FormatInt(second.Unix(), 10)
	if got := r.sandbox.Messages()[0].StatusCallback; got != want {
		t.Errorf("status callback %q, want %q", got, want)
	}
	waitFor(t, "delivered", func() bool {
		s := r.store.advancesOf(9)
		return len(s) > 0 && s[len(s)-1] == relais.DeliveryDelivered
	})
	before := len(r.store.advancesOf(9))

	late := statusURL + "?delivery_id=9&occurrence=" + strconv.FormatInt(first.Unix(), 10)
	form := url.Values{"MessageSid": {"SM00000000000000000000000000000009"}, "MessageStatus": {"delivered"}, "To": {frMobile}}
	req, _ := http.NewRequest(http.MethodPost, late, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sandbox.Sign(testToken, late, form))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("late callback of the earlier airing answered %d, want 404", res.StatusCode)
	}
	if after := len(r.store.advancesOf(9)); after != before {
		t.Errorf("a late callback of the earlier airing moved the re-armed delivery %d times", after-before)
	}
}
