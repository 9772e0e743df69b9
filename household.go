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

// Pupil is a child of a household: the grade and the language they are taught in decide which lessons
// reach the household (Audience).
type Pupil struct {
	Grade    int    `json:"grade"`
	Language string `json:"language"`         // language of instruction, one of Languages
	School   string `json:"school,omitempty"` // the school's code, optional
	// Class is the class's code, optional: unique on its own (e.g. "0751234A-6B"); teachers are linked
	// to classes.
	Class string `json:"class,omitempty"`
}

// Household is a family that receives lessons.
type Household struct {
	ID          int64
	ExternalRef string // the ministry's own identifier; unique
	Region      string
	Language    string // the contact language: greetings, airing times and links are written in it
	// Pupils are the household's children. A store fills it on read; on write an empty Pupils takes
	// Grades as its shorthand (see Roll).
	Pupils []Pupil
	// Grades are the pupils' grades, in order, each once. A store fills it from Pupils on read; on write
	// it counts only when Pupils is empty: one pupil per grade, taught in Language (rosters from before
	// pupils).
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
	// SMSSender is the name of the SMS sender (channels.Lane.Name) a fan-out last gave the household, ""
	// before its first SMS: the family hears from it lesson after lesson while the senders of its
	// country include it. Stores read it with the household; PlanPage writes it, an import leaves it.
	SMSSender string
	CreatedAt time.Time
	// RemovedAt is when a full import of the roster left the household out (zero: it is in the
	// roster). Nothing is sent to it any more; retention erases it RELAIS_REMOVED_RETENTION later.
	RemovedAt time.Time
}

// SenderChoice is the SMS sender a fan-out page gave a household, to be remembered in
// Household.SMSSender (DeliveryStore.PlanPage).
type SenderChoice struct {
	HouseholdID int64
	// Was is the sender the household remembered when the page was read ("": none): the choice is
	// written only while the household still remembers it.
	Was    string
	Sender string
}

// HasGrade reports whether the household has a pupil in grade g.
func (h Household) HasGrade(g int) bool {
	return slices.ContainsFunc(h.Roll(), func(p Pupil) bool { return p.Grade == g })
}

// Roll returns the household's pupils: Pupils, or when it is empty one pupil per grade of Grades taught
// in the household's language.
func (h Household) Roll() []Pupil {
	if len(h.Pupils) > 0 {
		return h.Pupils
	}
	var out []Pupil
	for _, g := range h.Grades {
		if !slices.ContainsFunc(out, func(p Pupil) bool { return p.Grade == g }) {
			out = append(out, Pupil{Grade: g, Language: h.Language})
		}
	}
	return out
}

// PupilGrades returns the grades of pupils, in their order, each once.
func PupilGrades(pupils []Pupil) []int {
	var out []int
	for _, p := range pupils {
		if !slices.Contains(out, p.Grade) {
			out = append(out, p.Grade)
		}
	}
	return out
}

// HouseholdFilter selects households.
type HouseholdFilter struct {
	// Search, when set, keeps the household whose reference, phone (E.164) or email is exactly it; the
	// region and profile still apply, Grade and Audience must be unset.
	Search  string
	Region  string
	Grade   int // 0: any; a household with a pupil in that grade, taught in any language
	Profile Profile
	// Audience, when set, keeps the households it reaches (Audience.Reaches) and Grade is ignored: the
	// fan-out, the publishing plan and the reminders all select a lesson's families by
	// Lesson.Reach(), through this one predicate of the store.
	Audience *Audience
	Page     Page
}
