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

// TestBalancedPool: the senders of a page of households are chosen at once, each taking at most its
// share (Config.LoadBound 1); Send sends from the chosen sender, through its account; a message sent on a
// chosen sender is found by Lookup without it (a re-queued message: the other accounts are asked too);
// a lane the pool does not have falls back to the household's own sender.
func TestBalancedPool(t *testing.T) {
	pool := []sms.PoolSender{
		{Name: "fr-1", Country: "FR", From: "38101", Rate: 20},
		{Name: "fr-2", Country: "FR", From: "38102", Rate: 20, AccountSID: ministrySID, AuthToken: ministryToken},
		{Name: "fr-3", Country: "FR", From: "38103", Rate: 40},
		{Name: "kz", Country: "KZ", From: "KZSchool", Rate: 10},
	}
	r := newPoolRig(t, map[string]string{ministrySID: ministryToken}, func(c *sms.Config) {
		c.Pool, c.Senders = pool, map[string]string{}
	})
	const n = 300
	hs := make([]relais.Household, n)
	for i := range hs {
		hs[i] = relais.Household{ID: int64(5000 + i), Phone: fmt.Sprintf("+33612%06d", i), Language: "fr"}
	}
	hs[7].Phone = "+77011234567" // Kazakhstan
	hs[8].Phone = "0612"         // invalid: no sender
	lanes := r.ch.Balance(hs)
	load := map[string]int{}
	for _, l := range lanes {
		load[l]++
	}
	// 298 French households: ceil(298/4), ceil(298/4) and ceil(298/2).
	if want := map[string]int{"fr-1": 75, "fr-2": 75, "fr-3": 148, "kz": 1, "": 1}; load["fr-1"] > want["fr-1"] || load["fr-2"] > want["fr-2"] ||
		load["fr-3"] > 150 || load["kz"] != 1 || load[""] != 1 {
		t.Errorf("loads %v, want at most %v (fr-3 at most 150)", load, want)
	}
	moved := 0
	for i, h := range hs {
		if s, _, err := r.ch.SenderFor(h.Phone, h.ID); err == nil && s.Name != lanes[i] {
			moved++
		}
	}
	if moved == 0 || moved > n/10 {
		t.Errorf("%d of %d households off their own sender, want a few", moved, n)
	}

	ctx := context.Background()
	fromOf := map[string]string{"fr-1": "38101", "fr-2": "38102", "fr-3": "38103"}
	var offOwn channels.Message // a household sent on a sender other than its own, on the other account
	for i, h := range hs {
		if lanes[i] == "" || lanes[i] == "kz" {
			continue
		}
		m := message(int64(i+1), h.Phone, "Leçon du jour")
		m.Household, m.Delivery.HouseholdID, m.Lane = h, h.ID, lanes[i]
		if _, err := r.ch.Send(ctx, m); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if own, _, _ := r.ch.SenderFor(h.Phone, h.ID); (own.Name == "fr-2") != (lanes[i] == "fr-2") {
			offOwn = m
		}
	}
	for _, m := range r.sandbox.Messages() {
		i := slices.IndexFunc(hs, func(h relais.Household) bool { return h.Phone == m.To })
		if m.From != fromOf[lanes[i]] {
			t.Errorf("household %d got its message from %s, its page chose %s", hs[i].ID, m.From, lanes[i])
		}
	}
	if offOwn.Lane == "" {
		t.Fatal("no household was sent off its own sender's account")
	}
	lost := offOwn
	lost.Lane = ""
	if rc, found, err := r.ch.Lookup(ctx, lost, time.Now().Add(-time.Minute)); err != nil || !found || rc.ProviderID == "" {
		t.Errorf("Lookup without the lane: %+v, %v, %v; want the message sent on %s", rc, found, err, offOwn.Lane)
	}
	m := message(999, hs[0].Phone, "Autre leçon")
	m.Household, m.Lane = hs[0], "gone"
	if _, err := r.ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	own, _, _ := r.ch.SenderFor(hs[0].Phone, hs[0].ID)
	msgs := r.sandbox.Messages()
	if last := msgs[len(msgs)-1]; last.From != own.From {
		t.Errorf("a lane the pool lacks: sent from %s, want the household's own %s", last.From, own.From)
	}
}

// TestRememberedSender: a household keeps the sender it remembers (Household.SMSSender) in a page's
// balance even off its own and past that sender's share; a message without a lane (queued again by
// the sweep) goes from it too, and from the household's own sender once the pool no longer has it for
// the household's country.
func TestRememberedSender(t *testing.T) {
	pool := []sms.PoolSender{
		{Name: "fr-1", Country: "FR", From: "38101", Rate: 20},
		{Name: "fr-2", Country: "FR", From: "38102", Rate: 20},
		{Name: "kz", Country: "KZ", From: "KZSchool", Rate: 10},
	}
	r := newPoolRig(t, nil, func(c *sms.Config) { c.Pool, c.Senders = pool, map[string]string{} })
	hs := make([]relais.Household, 100)
	for i := range hs {
		hs[i] = relais.Household{ID: int64(7000 + i), Phone: fmt.Sprintf("+33612%06d", i), Language: "fr", SMSSender: "fr-2"}
	}
	hs[1].SMSSender = "kz"   // a sender of another country
	hs[2].SMSSender = "gone" // a sender taken out of the pool
	hs[3].SMSSender = ""     // a new family
	lanes := r.ch.Balance(hs)
	for i, h := range hs {
		own, _, _ := r.ch.SenderFor(h.Phone, h.ID)
		want := h.SMSSender
		if i >= 1 && i <= 3 {
			want = "fr-1" // fr-2 is past its share: the others go where there is room
		}
		if lanes[i] != want {
			t.Errorf("household %d remembering %q (own %s): balanced on %q, want %q", h.ID, h.SMSSender, own.Name, lanes[i], want)
		}
	}

	ctx := context.Background()
	var offOwn relais.Household
	for _, h := range hs[4:] {
		if own, _, _ := r.ch.SenderFor(h.Phone, h.ID); own.Name != "fr-2" {
			offOwn = h
			break
		}
	}
	if offOwn.ID == 0 {
		t.Fatal("every household's own sender is fr-2: the test shows nothing")
	}
	m := message(1, offOwn.Phone, "Leçon du jour")
	m.Household, m.Delivery.HouseholdID = offOwn, offOwn.ID // no lane: a message the sweep queued again
	if _, err := r.ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	gone := offOwn
	gone.SMSSender = "kz"
	m = message(2, gone.Phone, "Leçon du jour")
	m.Household, m.Delivery.HouseholdID = gone, gone.ID
	if _, err := r.ch.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	var froms []string
	for _, sent := range r.sandbox.Messages() {
		froms = append(froms, sent.From)
	}
	if diff := cmp.Diff([]string{"38102", "38101"}, froms); diff != "" {
		t.Errorf("senders without a lane (-want +got): remembered fr-2, then a sender of another country:\n%s", diff)
	}
}
