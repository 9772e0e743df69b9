package email

import (
	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Rules are what Relais knows of the email channel without a relay: it reaches a household by its
// address, unless the address bounced or the family unsubscribed; households sharing an address get one
// email; the plan counts messages at the email rate. *Channel carries the same rules.
type Rules struct{}

var (
	_ channels.Rules  = Rules{}
	_ channels.Coster = Rules{}
	_ channels.Rules  = (*Channel)(nil)
)

// Name is relais.ChannelEmail.
func (Rules) Name() relais.ChannelName { return relais.ChannelEmail }

// Contact is h's email address.
func (Rules) Contact(h relais.Household) channels.Contact {
	return channels.Contact{Kind: channels.ContactEmail, Address: h.Email, Status: h.EmailStatus, OptedOut: h.EmailOptOut, Shared: true}
}

// Cost is one message at publication.
func (Rules) Cost(relais.Household, channels.CostInput) channels.Cost {
	return channels.Cost{Units: 1, Pace: channels.PaceEmail}
}

// Contact is h's email address (see Rules).
func (c *Channel) Contact(h relais.Household) channels.Contact { return Rules{}.Contact(h) }

// Cost: see Rules.
func (c *Channel) Cost(h relais.Household, in channels.CostInput) channels.Cost {
	return Rules{}.Cost(h, in)
}

// PageSize is 50 emails a send task, over one SMTP connection.
func (Rules) PageSize() int { return 50 }

// PageSize: see Rules.
func (c *Channel) PageSize() int { return Rules{}.PageSize() }
