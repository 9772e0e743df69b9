package sms_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/sms"
)

const (
	ministrySID   = "ACfedcba9876543210fedcba9876543210"
	ministryToken = "ministry99"
)

// TestSendThroughPool: French households share three senders, two of them on a second Twilio account.
// Each household hears from one sender, digest and reminder alike; messages go through their sender's
// account; status callbacks and replies signed by either account are taken; a reply maps back to the
// family.
func TestSendThroughPool(t *testing.T) {
	pool := []sms.PoolSender{
		{Name: "fr-alpha", Country: "FR", From: "Ecole", Rate: 10},
		{Name: "fr-short", Country: "FR", From: "38100", Rate: 20, AccountSID: ministrySID, AuthToken: ministryToken},
		{Name: "fr-long", Country: "FR", From: "+33757000001", Rate: 10, AccountSID: ministrySID, AuthToken: ministryToken},
	}
	r := newPoolRig(t, map[string]string{ministrySID: ministryToken}, func(c *sms.Config) {
		c.Senders = map[string]string{sms.DefaultCountry: "+15005550006"}
		c.Pool = pool
	})
	ctx := context.Background()
	const households = 40
	for round := range 2 { // the digest, then the reminder
		ch := channels.Channel(r.ch)
		if round == 1 {
			ch = r.ch.Reminders()
		}
		for i := range households {
			id := int64(100*(round+1) + i)
			m := message(id, fmt.Sprintf("+336123450%02d", i), "Leçon")
			m.Household.ID = int64(1000 + i)
			m.Delivery.HouseholdID = m.Household.ID
			if round == 1 {
				m.Delivery.Channel = relais.ChannelReminder
				m.Airing = &relais.Airing{Station: "Balapan", Start: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
			}
			r.store.mu.Lock() // planned, its SID not recorded yet: the callbacks find it by its id
			r.store.deliveries[fmt.Sprint("planned-", id)] = m.Delivery
			r.store.mu.Unlock()
			if _, err := ch.Send(ctx, m); err != nil {
				t.Fatalf("send %d: %v", id, err)
			}
		}
	}
	accountOf := map[string]string{"Ecole": testSID, "38100": ministrySID, "+33757000001": ministrySID}
	fromOf := map[string]string{} // by number
	perSender := map[string]int{}
	for _, m := range r.sandbox.Messages() {
		if m.AccountSID != accountOf[m.From] {
			t.Errorf("message from %s went through account %s, want %s", m.From, m.AccountSID, accountOf[m.From])
		}
		if f, ok := fromOf[m.To]; ok && f != m.From {
			t.Errorf("%s heard from %s and from %s", m.To, f, m.From)
		}
		fromOf[m.To] = m.From
		perSender[m.From]++
	}
	if len(fromOf) != households || len(perSender) != 3 {
		t.Fatalf("%d numbers reached through %d senders (%v), want %d through 3", len(fromOf), len(perSender), perSender, households)
	}
	// Every status callback, signed by either account, moved its delivery to delivered.
	for i := range households {
		for _, id := range []int64{int64(100 + i), int64(200 + i)} {
			waitFor(t, fmt.Sprintf("delivery %d delivered", id), func() bool {
				return slices.Contains(r.store.advancesOf(id), relais.DeliveryDelivered)
			})
		}
	}
	for _, m := range r.sandbox.Messages() {
		for _, cb := range m.Callbacks {
			if cb.HTTPStatus != http.StatusNoContent {
				t.Errorf("callback from account %s answered %d", m.AccountSID, cb.HTTPStatus)
			}
		}
	}
	// A family replies to its sender on the second account: the reply reaches its household.
	var phone string
	for to, from := range fromOf {
		if from == "38100" {
			phone = to
			break
		}
	}
	var household int64
	fmt.Sscanf(phone, "+336123450%02d", &household)
	household += 1000
	r.store.households = []relais.Household{{ID: household, Phone: phone, Language: "fr"}}
	res, err := r.sandbox.Inbound(ctx, phone, "38100", "Merci")
	if err != nil || res.HTTPStatus != http.StatusOK {
		t.Fatalf("reply to the short code: %v, HTTP %d", err, res.HTTPStatus)
	}
	r.store.mu.Lock()
	got := r.store.inbound
	r.store.mu.Unlock()
	if diff := cmp.Diff([]inbound{{Body: "Merci", HouseholdIDs: []int64{household}}}, got); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	// The channel says which sender serves the household: the one its messages came from.
	s, _, err := r.ch.SenderFor(phone, household)
	if err != nil || s.From != "38100" || s.AccountSID != ministrySID {
		t.Errorf("SenderFor = %+v, %v; want 38100 on the ministry account", s, err)
	}
	if lanes := r.ch.Senders(); len(lanes) != 4 || lanes.Capacity("FR") != 40 {
		t.Errorf("senders %+v: want 4, of which FR sends 40 segments/s", lanes)
	}
}
