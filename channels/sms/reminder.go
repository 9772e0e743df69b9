package sms

import (
	"context"
	"fmt"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Reminders returns the channel of broadcast reminders: the SMS that tells a family, shortly before,
// that its lesson airs on a station at a local time. It sends through c (same senders, pacing and
// receipts) with the text of templates/sms/reminder.LANG.tmpl.
func (c *Channel) Reminders() channels.Channel { return reminders{c} }

type reminders struct{ c *Channel }

// ReminderData is what templates/sms/reminder.LANG.tmpl renders.
type ReminderData struct {
	Title   string
	Station string
	Time    string // "10:30", station local time
	Day     string // "ven. 24.04", in the household's language
}

func (r reminders) Name() relais.ChannelName { return relais.ChannelReminder }

func (r reminders) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	body, err := r.body(m)
	if err != nil {
		return channels.Receipt{}, err
	}
	return r.c.sendBody(ctx, m, body)
}

// Lookup finds the reminder m at Twilio (see Channel.Lookup).
func (r reminders) Lookup(ctx context.Context, m channels.Message, since time.Time) (channels.Receipt, bool, error) {
	body, err := r.body(m)
	if err != nil {
		return channels.Receipt{}, false, err
	}
	return r.c.lookup(ctx, m.Household, m.Lane, body, since)
}

// FetchStatus asks Twilio the status of a reminder.
func (r reminders) FetchStatus(ctx context.Context, sid string) (relais.DeliveryStatus, error) {
	return r.c.FetchStatus(ctx, sid)
}

// body is the text Send sends for m.
func (r reminders) body(m channels.Message) (string, error) {
	if m.Airing == nil {
		return "", &channels.SendError{Kind: channels.Permanent, Code: "no_airing",
			Err: fmt.Errorf("reminder of lesson %d names no broadcast", m.Lesson.ID)}
	}
	var b strings.Builder
	data := ReminderData{Title: m.Lesson.Title, Station: m.Airing.Station, Time: m.Airing.Start.Format("15:04"),
		Day: dayLabel(m.Household.Language, m.Airing.Start)}
	if err := r.c.templates.SMS(&b, "reminder", m.Household.Language, data); err != nil {
		return "", &channels.SendError{Kind: channels.Permanent, Code: "template", Err: err}
	}
	body := strings.TrimSpace(b.String())
	if r.c.cfg.Smart {
		body = Smart(body)
	}
	return body, nil
}
