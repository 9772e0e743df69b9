package sqlstore

import (
	"context"
	"fmt"

	relais "github.com/relais-edu/relais"
)

// HouseholdColumns are the households table's columns, on h, in the order ScanHousehold reads them.
const HouseholdColumns = `h.id, h.external_ref, h.region, h.language, h.pupils, h.profile, h.phone, h.email,
	h.postal_address, h.consent, h.sms_opt_out, h.email_opt_out, h.phone_status, h.email_status, h.sms_sender,
	h.created_at, h.removed_at`

// ScanHousehold reads a row of HouseholdColumns.
func ScanHousehold(row Row) (relais.Household, error) {
	var h relais.Household
	var pupils string
	err := row.Scan(&h.ID, &h.ExternalRef, &h.Region, &h.Language, &pupils, &h.Profile, &h.Phone, &h.Email,
		&h.PostalAddress, Bool(&h.Consent), Bool(&h.SMSOptOut), Bool(&h.EmailOptOut), &h.PhoneStatus, &h.EmailStatus,
		Text(&h.SMSSender), Time(&h.CreatedAt), OptTime(&h.RemovedAt))
	if err != nil {
		return h, err
	}
	if pupils != "[]" {
		if err := unmarshal(pupils, &h.Pupils); err != nil {
			return h, fmt.Errorf("household %d: pupils: %w", h.ID, err)
		}
	}
	h.Grades = relais.PupilGrades(h.Pupils)
	return h, nil
}

// Household returns one household.
func (st Store) Household(ctx context.Context, id int64) (relais.Household, error) {
	h, err := ScanHousehold(st.e.Read().QueryRow(ctx, `SELECT `+HouseholdColumns+` FROM households h WHERE h.id = ?`, id))
	return h, orNotFound(err, func() error { return relais.Errorf(relais.ENOTFOUND, "Household %d not found.", id) })
}

// Run is a run of pupils an audience reaches: a grade, in one language of instruction or (Lang nil) in any.
type Run struct {
	Grade int
	Lang  *string
}

// AudienceRuns are the runs of pupils a filter with an audience or a grade reaches (none for an
// audience without grades or languages), and the audience (zero for a grade alone).
func AudienceRuns(f relais.HouseholdFilter) ([]Run, relais.Audience) {
	if f.Audience == nil {
		return []Run{{Grade: f.Grade}}, relais.Audience{}
	}
	a := *f.Audience
	var runs []Run
	for _, g := range a.Grades {
		for i := range a.Languages {
			runs = append(runs, Run{g, &a.Languages[i]})
		}
	}
	return runs, a
}

// PhoneIs is the condition on households h that its phone is phone, with one ? placeholder for the
// value: a number that is not empty is looked up on the partial index households_phone, whose
// condition the query then repeats (without it, the callbacks about a number read every household).
func PhoneIs(phone string) string {
	if phone == "" {
		return `h.phone = ?`
	}
	return `h.phone = ? AND h.phone <> ''`
}

// HouseholdsByPhone returns every household with that number.
func (st Store) HouseholdsByPhone(ctx context.Context, phone string) ([]relais.Household, error) {
	return QueryAll(ctx, st.e.Read(), ScanHousehold, `SELECT `+HouseholdColumns+` FROM households h WHERE `+
		PhoneIs(phone)+` ORDER BY h.id`, phone)
}

// SetPhoneStatus records what the SMS provider said of a number.
func (st Store) SetPhoneStatus(ctx context.Context, phone string, status relais.ContactStatus) error {
	return st.setContact(ctx, `phone_status`, status, PhoneIs(phone), phone)
}

// SetSMSOptOut opts a number out of, or back into, SMS.
func (st Store) SetSMSOptOut(ctx context.Context, phone string, optOut bool) error {
	return st.setContact(ctx, `sms_opt_out`, optOut, PhoneIs(phone), phone)
}

// SetEmailStatus records what the mail system said of an address.
func (st Store) SetEmailStatus(ctx context.Context, email string, status relais.ContactStatus) error {
	return st.setContact(ctx, `email_status`, status, st.d.EmailIs(email), email)
}

// SetEmailOptOut opts an address out of, or back into, email.
func (st Store) SetEmailOptOut(ctx context.Context, email string, optOut bool) error {
	return st.setContact(ctx, `email_opt_out`, optOut, st.d.EmailIs(email), email)
}

// setContact sets column to v on the households whose contact is, by cond, contact.
func (st Store) setContact(ctx context.Context, column string, v any, cond, contact string) error {
	_, err := st.e.Write().Exec(ctx, `UPDATE households AS h SET `+column+` = ? WHERE `+cond, v, contact)
	return err
}

// CountHouseholds counts every household.
func (st Store) CountHouseholds(ctx context.Context) (int64, error) {
	var n int64
	err := st.e.Read().QueryRow(ctx, `SELECT COUNT(*) FROM households`).Scan(&n)
	return n, err
}
