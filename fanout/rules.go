// Package fanout decides, in one readable place, which channels carry a lesson to a household.
//
// The rules by connectivity profile:
//
//	broadband       -> email
//	mobile_data     -> email + SMS
//	sms_only        -> SMS
//	broadcast_only  -> SMS notice of the broadcast, when a phone is known (the TV or radio carries the lesson)
//	offline         -> postal packet
//
// Fallback: a channel that cannot reach the household (no address, or an address a provider has told us
// is invalid or a landline) hands over to the next one that can: email -> SMS -> post. A channel the
// family opted out of is never used and never falls back: they asked not to be contacted that way, and
// the skipped delivery is recorded with the reason. Without consent nothing is sent.
package fanout

import relais "github.com/relais-edu/relais"

// Route is one delivery the plan makes for a household: a channel, or a skip with its reason.
type Route struct {
	Channel relais.ChannelName
	Skip    string // non-empty: recorded as a skipped delivery with this reason, not sent
}

// primary lists the channels each profile asks for, in order.
var primary = map[relais.Profile][]relais.ChannelName{
	relais.ProfileBroadband:     {relais.ChannelEmail},
	relais.ProfileMobileData:    {relais.ChannelEmail, relais.ChannelSMS},
	relais.ProfileSMSOnly:       {relais.ChannelSMS},
	relais.ProfileBroadcastOnly: {relais.ChannelSMS},
	relais.ProfileOffline:       {relais.ChannelPostal},
}

// fallback is where a channel hands over when it cannot reach the household.
var fallback = map[relais.ChannelName]relais.ChannelName{
	relais.ChannelEmail: relais.ChannelSMS,
	relais.ChannelSMS:   relais.ChannelPostal,
}

// Routes returns the deliveries to plan for h. Each channel appears at most once.
func Routes(h relais.Household) []Route {
	if !h.Consent {
		return []Route{{Channel: firstChannel(h.Profile), Skip: "no consent to be contacted"}}
	}
	var out []Route
	seen := map[relais.ChannelName]bool{}
	for _, want := range primary[h.Profile] {
		ch := want
		for {
			if seen[ch] {
				break
			}
			reach, optedOut := reachable(h, ch)
			if optedOut {
				seen[ch] = true
				out = append(out, Route{Channel: ch, Skip: relais.OptedOutReason(ch)})
				break
			}
			if reach {
				seen[ch] = true
				out = append(out, Route{Channel: ch})
				break
			}
			next, ok := fallback[ch]
			if !ok || h.Profile == relais.ProfileBroadcastOnly {
				// broadcast_only households are reached by the broadcast itself: the SMS is only a notice.
				break
			}
			ch = next
		}
	}
	if len(out) == 0 && h.Profile != relais.ProfileBroadcastOnly {
		out = append(out, Route{Channel: firstChannel(h.Profile), Skip: "no usable phone, email or postal address"})
	}
	return out
}

func firstChannel(p relais.Profile) relais.ChannelName {
	if cs := primary[p]; len(cs) > 0 {
		return cs[0]
	}
	return relais.ChannelPostal
}

// reachable reports whether ch can carry a message to h, and whether h opted out of ch.
func reachable(h relais.Household, ch relais.ChannelName) (reach, optedOut bool) {
	switch ch {
	case relais.ChannelEmail:
		if h.Email == "" {
			return false, false
		}
		if h.EmailOptOut || h.EmailStatus == relais.ContactOptedOut {
			return false, true
		}
		return h.EmailStatus == relais.ContactOK, false
	case relais.ChannelSMS, relais.ChannelReminder:
		if h.Phone == "" {
			return false, false
		}
		if h.SMSOptOut || h.PhoneStatus == relais.ContactOptedOut {
			return false, true
		}
		return h.PhoneStatus == relais.ContactOK, false
	case relais.ChannelPostal:
		return h.PostalAddress != "", false
	}
	return false, false
}

// StillReachable is checked again right before a send: an opt-out or a bad-address verdict that arrived
// after the plan was made wins. It returns the reason to skip, or "".
func StillReachable(h relais.Household, ch relais.ChannelName) string {
	if !h.Consent {
		return "no consent to be contacted"
	}
	reach, optedOut := reachable(h, ch)
	switch {
	case optedOut:
		if ch == relais.ChannelReminder {
			return relais.OptedOutReason(relais.ChannelSMS)
		}
		return relais.OptedOutReason(ch)
	case !reach:
		return "no usable " + string(ch) + " contact"
	}
	return ""
}
