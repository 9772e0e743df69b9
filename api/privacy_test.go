package api

import (
	"context"
	"strconv"
	"testing"

	relais "github.com/relais-edu/relais"
)

// TestAccessAndErasureThroughTheAPI: the media unit reads out everything held about a household, then
// erases it; teachers may do neither; both are in the audit log.
func TestAccessAndErasureThroughTheAPI(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	hs := []relais.Household{{ExternalRef: "DURAND-17", Region: "IDF", Language: "fr", Grades: []int{5}, Profile: relais.ProfileSMSOnly,
		Phone: "+33612000001", Consent: true}}
	must(t, f.store.UpsertHouseholds(ctx, hs))
	must(t, f.store.SaveInbound(ctx, relais.InboundMessage{Phone: "+33612000001", Body: "Merci"}))
	l := relais.Lesson{Title: "T", Subject: "s", Grade: 5, Language: "fr", TeacherID: "t1"}
	must(t, f.store.CreateLesson(ctx, &l))
	_, err := f.store.PlanPage(ctx, []relais.Delivery{{LessonID: l.ID, HouseholdID: hs[0].ID, Channel: relais.ChannelSMS}},
		[]relais.SenderChoice{{HouseholdID: hs[0].ID, Sender: "Ecole-IDF"}})
	must(t, err)
	path := "/api/v1/households/" + strconv.FormatInt(hs[0].ID, 10)
	status, body := f.do("GET", "/api/v1/households", "m", nil, "")
	items, _ := body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["sms_sender"] != "Ecole-IDF" {
		t.Errorf("households = %d %v, want the family's SMS sender", status, body)
	}

	if status, _ := f.do("GET", path+"/export", "t1", nil, ""); status != 403 {
		t.Errorf("teacher exports = %d", status)
	}
	status, body = f.do("GET", path+"/export", "m", nil, "")
	h, _ := body["household"].(map[string]any)
	in, _ := body["inbound_messages"].([]any)
	if status != 200 || h["phone"] != "+33612000001" || h["external_ref"] != "DURAND-17" || h["sms_sender"] != "Ecole-IDF" || len(in) != 1 {
		t.Fatalf("export = %d %v", status, body)
	}
	if status, _ := f.do("DELETE", path, "t1", nil, ""); status != 403 {
		t.Errorf("teacher erases = %d", status)
	}
	if status, body := f.do("DELETE", path, "m", nil, ""); status != 204 {
		t.Fatalf("erase = %d %v", status, body)
	}
	status, body = f.do("GET", path+"/export", "m", nil, "")
	h, _ = body["household"].(map[string]any)
	in, _ = body["inbound_messages"].([]any)
	if _, kept := h["sms_sender"]; status != 200 || h["phone"] != "" || h["external_ref"] != relais.ErasedRef(hs[0].ID) || kept || len(in) != 0 {
		t.Errorf("export after erasure = %d %v", status, body)
	}
	if status, _ := f.do("DELETE", "/api/v1/households/999", "m", nil, ""); status != 404 {
		t.Errorf("erase a missing household = %d", status)
	}
	entries, err := f.store.AuditEntries(ctx, relais.AuditFilter{})
	must(t, err)
	var exports, erasures int
	for _, e := range entries {
		switch {
		case e.Action == relais.AuditExport && e.Actor == "m":
			exports++
		case e.Action == relais.AuditDelete && e.Actor == "m":
			erasures++
		}
	}
	if exports != 2 || erasures != 1 {
		t.Errorf("audit log has %d exports and %d erasures by m, want 2 and 1: %+v", exports, erasures, entries)
	}
}
