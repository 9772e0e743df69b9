// Package fanout decides, in one readable place, which channels carry a lesson to a household.
//
// The policy by connectivity profile:
//
//	broadband       -> email
//	mobile_data     -> email + SMS
//	sms_only        -> SMS
//	broadcast_only  -> SMS notice of the broadcast, when a phone is known (the TV or radio carries the lesson)
//	offline         -> postal packet
//
// Fallback: a channel that cannot reach the household (no address, or an address a provider has told us
// is invalid or a landline) hands over to the next one of the fallback order that can: email -> SMS ->
// post. A channel the family opted out of is never used and never falls back: they asked not to be
// contacted that way, and the skipped delivery is recorded with the reason. Without consent nothing is
// sent.
//
// The policy is data (Policy); whether a channel reaches a household is the channel's own rule
// (channels.Rules), read from the registry.
package fanout

import (
	"slices"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/channels"
)

// Route is one delivery the plan makes for a household: a channel, or a skip with its reason.
type Route struct {
	Channel relais.ChannelName
	Skip    string // non-empty: recorded as a skipped delivery with this reason, not sent
}

// ProfilePolicy is what fan-out does for one connectivity profile.
type ProfilePolicy struct {
	// Channels are asked for in order.
	Channels []relais.ChannelName
	// Notice: the broadcast carries the lesson and the channels only announce it; a channel that cannot
	// reach the household does not fall back, and a household reached by none is not recorded.
	Notice bool
}

// Policy is the fan-out policy: the channels of each profile and the fallback order.
type Policy struct {
	Profiles map[relais.Profile]ProfilePolicy
	// Fallback: a channel that cannot reach a household hands over to the one after it.
	Fallback []relais.ChannelName
}

// DefaultPolicy is Relais' policy (see the package comment).
func DefaultPolicy() Policy {
	return Policy{
		Profiles: map[relais.Profile]ProfilePolicy{
			relais.ProfileBroadband:     {Channels: []relais.ChannelName{relais.ChannelEmail}},
			relais.ProfileMobileData:    {Channels: []relais.ChannelName{relais.ChannelEmail, relais.ChannelSMS}},
			relais.ProfileSMSOnly:       {Channels: []relais.ChannelName{relais.ChannelSMS}},
			relais.ProfileBroadcastOnly: {Channels: []relais.ChannelName{relais.ChannelSMS}, Notice: true},
			relais.ProfileOffline:       {Channels: []relais.ChannelName{relais.ChannelPostal}},
		},
		Fallback: []relais.ChannelName{relais.ChannelEmail, relais.ChannelSMS, relais.ChannelPostal},
	}
}

// Rules applies a policy with the channels' rules from a registry.
type Rules struct {
	Policy   Policy
	Channels *channels.Registry
}

// New returns the rules of DefaultPolicy over reg, with each registered channel that is a
// channels.Router asked for, after the policy's own, by the profiles it names.
func New(reg *channels.Registry) *Rules {
	p := DefaultPolicy()
	for _, name := range reg.Known() {
		rs, _ := reg.Rules(name)
		r, ok := rs.(channels.Router)
		if !ok {
			continue
		}
		for _, prof := range r.Profiles() {
			pp := p.Profiles[prof]
			if !slices.Contains(pp.Channels, name) {
				pp.Channels = append(slices.Clone(pp.Channels), name)
				p.Profiles[prof] = pp
			}
		}
	}
	return &Rules{Policy: p, Channels: reg}
}

// Routes returns the deliveries to plan for h. Each channel appears at most once.
func (r *Rules) Routes(h relais.Household) []Route {
	pp := r.Policy.Profiles[h.Profile]
	if !h.RemovedAt.IsZero() {
		return []Route{{Channel: r.firstChannel(pp), Skip: removed}}
	}
	if !h.Consent {
		return []Route{{Channel: r.firstChannel(pp), Skip: noConsent}}
	}
	var out []Route
	seen := map[relais.ChannelName]bool{}
	for _, want := range pp.Channels {
		ch := want
		for ch != "" && !seen[ch] {
			c := r.Channels.Contact(ch, h)
			switch c.Reach() {
			case channels.OptedOut:
				seen[ch] = true
				out = append(out, Route{Channel: ch, Skip: relais.OptedOutReason(ch)})
			case channels.Reachable:
				seen[ch] = true
				out = append(out, Route{Channel: ch})
			default:
				if !pp.Notice {
					ch = r.fallback(ch)
					continue
				}
			}
			break
		}
	}
	if len(out) == 0 && !pp.Notice {
		out = append(out, Route{Channel: r.firstChannel(pp), Skip: "no usable phone, email or postal address"})
	}
	return out
}

const (
	noConsent = "no consent to be contacted"
	removed   = "removed from the roster"
)

// fallback is the channel after ch in the fallback order, "" after the last.
func (r *Rules) fallback(ch relais.ChannelName) relais.ChannelName {
	i := slices.Index(r.Policy.Fallback, ch)
	if i < 0 || i+1 >= len(r.Policy.Fallback) {
		return ""
	}
	return r.Policy.Fallback[i+1]
}

func (r *Rules) firstChannel(pp ProfilePolicy) relais.ChannelName {
	if len(pp.Channels) > 0 {
		return pp.Channels[0]
	}
	return r.Policy.Fallback[len(r.Policy.Fallback)-1]
}

// StillReachable is checked again right before a send: an opt-out or a bad-address verdict that arrived
// after the plan was made wins. It returns the reason to skip, or "".
func (r *Rules) StillReachable(h relais.Household, ch relais.ChannelName) string {
	if !h.RemovedAt.IsZero() {
		return removed
	}
	if !h.Consent {
		return noConsent
	}
	c := r.Channels.Contact(ch, h)
	switch c.Reach() {
	case channels.OptedOut:
		return relais.OptedOutReason(c.OptOutOf)
	case channels.Unreachable:
		return "no usable " + string(ch) + " contact"
	}
	return ""
}
