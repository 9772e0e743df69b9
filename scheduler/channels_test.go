package scheduler_test

import (
	"github.com/relais-edu/relais/channels"
	"github.com/relais-edu/relais/channels/email"
	"github.com/relais-edu/relais/channels/postal"
	"github.com/relais-edu/relais/channels/sms"
)

// relaisChannels are Relais' channels as main wires them, none with a provider.
func relaisChannels() *channels.Registry {
	return channels.NewRegistry().Know(sms.Rules{}, sms.ReminderRules{}, email.Rules{}, &postal.Channel{})
}
