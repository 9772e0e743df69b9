package sms

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

var (
	_ channels.Reconciler    = (*Channel)(nil)
	_ channels.StatusFetcher = (*Channel)(nil)
	_ channels.Reconciler    = reminders{}
)

// lookupPages bounds the messages read per lookup: a number gets few messages a day.
const lookupLimit = 200

// Lookup asks Twilio whether it holds the message Send would have sent for m since the claim: the
// messages to the household's number, newest first, back to a minute before since, whose body is the
// one Send builds. Twilio's DateSent filter is not used on its own: a message Twilio took but has not
// sent yet has no date_sent and would match no date, and sending it again would send it twice.
func (c *Channel) Lookup(ctx context.Context, m channels.Message, since time.Time) (channels.Receipt, bool, error) {
	body, err := c.body(m)
	if err != nil {
		return channels.Receipt{}, false, err
	}
	return c.lookup(ctx, m.Household, body, since)
}

// lookup looks for the message to h in the account of h's sender, the one Send used.
func (c *Channel) lookup(ctx context.Context, h relais.Household, body string, since time.Time) (channels.Receipt, bool, error) {
	sender, _, err := c.SenderFor(h.Phone, h.ID)
	if err != nil {
		return channels.Receipt{}, false, err
	}
	to := h.Phone
	api, call := c.api(ctx, sender.AccountSID)
	params := &openapi.ListMessageParams{}
	params.SetTo(to)
	params.SetPageSize(50)
	params.SetLimit(lookupLimit)
	msgs, err := api.ListMessage(params)
	if err != nil {
		return channels.Receipt{}, false, fmt.Errorf("list messages at twilio: %w", classify(err, *call))
	}
	from := since.Add(-time.Minute)
	for _, msg := range msgs {
		if msg.DateCreated != nil {
			if at, err := time.Parse(time.RFC1123Z, *msg.DateCreated); err == nil && at.Before(from) {
				break // newest first: the rest are older than the claim
			}
		}
		if msg.Sid == nil || msg.Body == nil || *msg.Body != body {
			continue
		}
		r := channels.Receipt{ProviderID: *msg.Sid, Status: relais.DeliveryQueued}
		if msg.Status != nil {
			if s, ok := deliveryStatus(*msg.Status); ok {
				r.Status = s
			}
		}
		return r, true, nil
	}
	return channels.Receipt{}, false, nil
}

// FetchStatus asks Twilio the current status of the message sid (FetchMessage): in the default account,
// then in the pool's other accounts while the message is not found (a SID belongs to one account).
func (c *Channel) FetchStatus(ctx context.Context, sid string) (relais.DeliveryStatus, error) {
	accounts := []string{c.cfg.AccountSID}
	for _, s := range c.senders {
		if !slices.Contains(accounts, s.AccountSID) {
			accounts = append(accounts, s.AccountSID)
		}
	}
	var msg *openapi.ApiV2010Message
	for i, account := range accounts {
		api, call := c.api(ctx, account)
		var err error
		msg, err = api.FetchMessage(sid, &openapi.FetchMessageParams{})
		if err == nil {
			break
		}
		if call.status == http.StatusNotFound && i < len(accounts)-1 {
			continue
		}
		return "", fmt.Errorf("fetch message %s at twilio: %w", sid, classify(err, *call))
	}
	if msg.Status != nil {
		if s, ok := deliveryStatus(*msg.Status); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("fetch message %s at twilio: no status we know", sid)
}
