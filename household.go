package relais

import (
	"slices"
	"time"
)

// Profile is a household's connectivity: it decides which channels reach it.
type Profile string

const (
	ProfileBroadband     Profile = "broadband"
	ProfileMobileData    Profile = "mobile_data"
	ProfileSMSOnly       Profile = "sms_only"
	ProfileBroadcastOnly Profile = "broadcast_only"
	ProfileOffline       Profile = "offline"
)

// Profiles lists every profile, in a stable order.
var Profiles = []Profile{ProfileBroadband, ProfileMobileData, ProfileSMSOnly, ProfileBroadcastOnly, ProfileOffline}

// ValidProfile reports whether p is a known profile.
func ValidProfile(p Profile) bool { return slices.Contains(Profiles, p) }

// ContactStatus records what a provider told us about a phone number or an email address.
type ContactStatus string

const (
	ContactOK       ContactStatus = ""          // nothing known against it
	ContactInvalid  ContactStatus = "invalid"   // not a valid number or address (21211, 30005, hard bounce)
	ContactLandline ContactStatus = "landline"  // cannot receive SMS (21614, 30006)
	ContactOptedOut ContactStatus = "opted_out" // the family said STOP or unsubscribed
)

// Household is a family that receives lessons.
type Household struct {
	ID            int64
	ExternalRef   string // the ministry's own identifier; unique
	Region        string
	Language      string
	Grades        []int
	Profile       Profile
	Phone         string // E.164
	Email         string
	PostalAddress string // lines separated by "\n"
	Consent       bool   // the family agreed to be contacted
	SMSOptOut     bool
	EmailOptOut   bool
	PhoneStatus   ContactStatus
	EmailStatus   ContactStatus
	CreatedAt     time.Time
}

// HasGrade reports whether the household has a pupil in grade g.
func (h Household) HasGrade(g int) bool {
	for _, x := range h.Grades {
		if x == g {
			return true
		}
	}
	return false
}

// HouseholdFilter selects households.
type HouseholdFilter struct {
	Region  string
	Grade   int // 0: any
	Profile Profile
	Page    Page
}
