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
	return c.lookup(ctx, m.Household, m.Lane, body, since)
}

// lookup looks for the message to h in the account of the sender Send uses (lane, else the one the
// household remembers, else its own), then in the other accounts of the senders of h's country: the fan-out's choice of
// sender for a page may differ from the one a re-queued message gets, and a sender may have been added.
func (c *Channel) lookup(ctx context.Context, h relais.Household, lane, body string, since time.Time) (channels.Receipt, bool, error) {
	sender, country, err := c.senderFor(h, lane)
	if err != nil {
		return channels.Receipt{}, false, err
	}
	accounts := []string{sender.AccountSID}
	for _, l := range c.lanes.Lanes(country) {
		if a := c.sender(l).AccountSID; !slices.Contains(accounts, a) {
			accounts = append(accounts, a)
		}
	}
	for _, account := range accounts {
		r, found, err := c.lookupIn(ctx, account, h.Phone, body, since)
		if err != nil || found {
			return r, found, err
		}
	}
	return channels.Receipt{}, false, nil
}

// lookupIn looks for the message body to the number to in account, since the claim.
func (c *Channel) lookupIn(ctx context.Context, account, to, body string, since time.Time) (channels.Receipt, bool, error) {
	api, call := c.api(ctx, account)
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
