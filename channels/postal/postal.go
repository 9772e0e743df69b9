// Package postal is the channel for households reached only by post. A send puts the delivery in its
// region's postal queue (status queued); the regional office prints the batch and marks it posted.
package postal

import (
	"context"
	"fmt"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Channel queues postal packets.
type Channel struct{}

var _ channels.Channel = (*Channel)(nil)

// Name is "postal".
func (*Channel) Name() relais.ChannelName { return relais.ChannelPostal }

// Send queues the packet in the household's regional batch; the batch id is the provider id.
func (*Channel) Send(ctx context.Context, m channels.Message) (channels.Receipt, error) {
	if m.Household.PostalAddress == "" {
		return channels.Receipt{}, &channels.SendError{Kind: channels.Permanent, Contact: relais.ContactInvalid,
			Err: fmt.Errorf("household %d has no postal address", m.Household.ID)}
	}
	return channels.Receipt{ProviderID: BatchKey(m.Household.Region, m.Lesson.ID), Status: relais.DeliveryQueued}, nil
}

// Unassigned is the region of households that have none (relais.PostalUnassigned).
const Unassigned = relais.PostalUnassigned

// BatchKey is the provider id of a delivery waiting for the postal batch of its region and lesson
// (relais.PostalBatchKey).
func BatchKey(region string, lessonID int64) string { return relais.PostalBatchKey(region, lessonID) }

var (
	_ channels.Rules  = (*Channel)(nil)
	_ channels.Coster = (*Channel)(nil)
)

// Contact is h's postal address. Nothing is known against an address, and households sharing one
// each get their packet.
func (*Channel) Contact(h relais.Household) channels.Contact {
	return channels.Contact{Kind: channels.ContactPost, Address: h.PostalAddress}
}

// Cost is one packet, in the batch cut a lead time before the broadcast.
func (*Channel) Cost(relais.Household, channels.CostInput) channels.Cost {
	return channels.Cost{Pace: channels.PaceNone, Lead: channels.PostedAhead}
}

// PageSize is 500 packets a send task: queuing one costs nothing.
func (*Channel) PageSize() int { return 500 }
