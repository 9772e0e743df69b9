package sms

import (
	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Rules are what Relais knows of the SMS channel without a Twilio account: it reaches a household by
// its phone number, unless the number is invalid, a landline, or opted out; families sharing a number
// get one message; the plan counts segments at the SMS rate. *Channel carries the same rules.
type Rules struct{}

var (
	_ channels.Rules  = Rules{}
	_ channels.Coster = Rules{}
	_ channels.Rules  = ReminderRules{}
	_ channels.Coster = ReminderRules{}
	_ channels.Rules  = (*Channel)(nil)

	_ channels.QuietHoursKeeper = Rules{}
	_ channels.QuietHoursKeeper = ReminderRules{}
)

// Name is relais.ChannelSMS.
func (Rules) Name() relais.ChannelName { return relais.ChannelSMS }

// Contact is h's phone number.
func (Rules) Contact(h relais.Household) channels.Contact {
	return channels.Contact{Kind: channels.ContactPhone, Address: h.Phone, Status: h.PhoneStatus, OptedOut: h.SMSOptOut, Shared: true}
}

// Cost is the segments of the digest in h's language, sent at publication.
func (Rules) Cost(h relais.Household, in channels.CostInput) channels.Cost {
	n := in.Segments[h.Language]
	if n == 0 {
		n = in.DigestSegments
	}
	return channels.Cost{Units: int64(n), Segments: true, Pace: channels.PaceSMS}
}

// ReminderRules are the rules of the broadcast reminder: an SMS to the same number, before each
// airing, to the households the lesson reaches by SMS; opting out of SMS opts out of reminders.
type ReminderRules struct{}

// Name is relais.ChannelReminder.
func (ReminderRules) Name() relais.ChannelName { return relais.ChannelReminder }

// Contact is h's phone number; an opt-out is one of SMS.
func (ReminderRules) Contact(h relais.Household) channels.Contact {
	c := Rules{}.Contact(h)
	c.OptOutOf = relais.ChannelSMS
	return c
}

// Follows: reminders go to the households the SMS digest reaches.
func (ReminderRules) Follows() relais.ChannelName { return relais.ChannelSMS }

// Cost is one reminder before each airing, at the SMS rate.
func (ReminderRules) Cost(h relais.Household, in channels.CostInput) channels.Cost {
	return channels.Cost{PlanName: "sms_reminder", Units: int64(in.ReminderSegments), Segments: true,
		Pace: channels.PaceSMS, Lead: channels.BeforeAiring}
}

// Contact is h's phone number (see Rules).
func (c *Channel) Contact(h relais.Household) channels.Contact { return Rules{}.Contact(h) }

// Cost: see Rules.
func (c *Channel) Cost(h relais.Household, in channels.CostInput) channels.Cost {
	return Rules{}.Cost(h, in)
}

func (r reminders) Contact(h relais.Household) channels.Contact { return ReminderRules{}.Contact(h) }
func (r reminders) Follows() relais.ChannelName                 { return ReminderRules{}.Follows() }
func (r reminders) Cost(h relais.Household, in channels.CostInput) channels.Cost {
	return ReminderRules{}.Cost(h, in)
}

// Balance shares a page's households among the senders as the digest's fan-out does (Channel.Balance):
// the same page gets the same senders, so a family's reminder comes from its digest's sender.
func (r reminders) Balance(hs []relais.Household) []string { return r.c.Balance(hs) }

// PageSize is 100 messages a send task.
func (Rules) PageSize() int { return 100 }

// PageSize: see Rules.
func (c *Channel) PageSize() int { return Rules{}.PageSize() }

// KeepsQuietHours: an SMS waits for the end of the household's quiet hours.
func (Rules) KeepsQuietHours() bool { return true }

// KeepsQuietHours: a reminder too.
func (ReminderRules) KeepsQuietHours() bool { return true }

// KeepsQuietHours: see Rules.
func (c *Channel) KeepsQuietHours() bool { return true }

func (r reminders) KeepsQuietHours() bool { return true }
