package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/relais-edu/relais/api/apiclient"
)

// TestTypedClient drives a running server (real SQLite) through the client generated from
// docs/openapi.yaml: lessons, households, stations, slots and the schedule. Each answer must have the
// status the spec gives, decode into the spec's type without a field the spec does not name, and
// encode back to the same JSON: a spec that misdescribes a response (a missing or renamed field, a
// string for a number, a wrong format) fails here.
func TestTypedClient(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	as := func(user string) *apiclient.ClientWithResponses {
		t.Helper()
		c, err := apiclient.NewClientWithResponses(f.srv.URL, apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+f.tokens[user])
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	teacher, media := as("t1"), as("m")

	// Lessons: upload one, read it, list them.
	body, ct := multipartBody(goodFields(), map[string][]byte{"media": mp4Head})
	created, err := teacher.CreateLessonWithBodyWithResponse(ctx, ct, body)
	lesson := matches(t, "createLesson", created, err, http.StatusCreated, created.Body, created.JSON201)
	got, err := teacher.GetLessonWithResponse(ctx, lesson.Id)
	matches(t, "getLesson", got, err, http.StatusOK, got.Body, got.JSON200)
	list, err := teacher.ListLessonsWithResponse(ctx, &apiclient.ListLessonsParams{})
	if lessons := matches(t, "listLessons", list, err, http.StatusOK, list.Body, list.JSON200); len(lessons.Items) != 1 {
		t.Errorf("listLessons = %+v, want the one lesson", lessons)
	}

	// Households: import (partial and full), list, export one.
	csv := "external_ref,language,pupils,profile,phone,email,postal_address\n" +
		"H1,fr,5:fr:0751234A:0751234A-5B,mobile_data,+33612345671,h1@example.org,Famille Un\\n1 rue A\\n75001 Paris\n" +
		"H2,fr,5:fr,sms_only,+33612345672,,\n"
	imp, err := media.ImportHouseholdsWithBodyWithResponse(ctx, &apiclient.ImportHouseholdsParams{}, "text/csv", strings.NewReader(csv))
	matches(t, "importHouseholds", imp, err, http.StatusOK, imp.Body, imp.JSON200)
	full := true
	imp, err = media.ImportHouseholdsWithBodyWithResponse(ctx, &apiclient.ImportHouseholdsParams{Full: &full}, "text/csv",
		strings.NewReader(strings.Join(strings.Split(csv, "\n")[:2], "\n")+"\n"))
	if res := matches(t, "importHouseholds full", imp, err, http.StatusOK, imp.Body, imp.JSON200); res.Removed == nil || *res.Removed != 1 {
		t.Errorf("full import = %+v, want H2 removed", res)
	}
	hs, err := media.ListHouseholdsWithResponse(ctx, &apiclient.ListHouseholdsParams{})
	households := matches(t, "listHouseholds", hs, err, http.StatusOK, hs.Body, hs.JSON200)
	if len(households.Items) != 2 {
		t.Fatalf("listHouseholds = %+v, want 2", households)
	}
	export, err := media.ExportHouseholdWithResponse(ctx, *households.Items[0].Id)
	matches(t, "exportHousehold", export, err, http.StatusOK, export.Body, export.JSON200)

	// Stations, slots and the schedule.
	st, err := media.CreateStationWithResponse(ctx, apiclient.Station{Name: "Balapan", Kind: "tv", TimeZone: "Asia/Almaty"})
	station := matches(t, "createStation", st, err, http.StatusCreated, st.Body, st.JSON201)
	sts, err := media.ListStationsWithResponse(ctx)
	matches(t, "listStations", sts, err, http.StatusOK, sts.Body, sts.JSON200)
	day := openapi_types.Date{Time: time.Now().AddDate(0, 0, 30)}
	sl, err := media.AddSlotWithResponse(ctx, *station.Id, apiclient.Slot{Day: day, Start: "10:00", Minutes: 30})
	matches(t, "addSlot", sl, err, http.StatusCreated, sl.Body, sl.JSON201)
	slots, err := media.ListSlotsWithResponse(ctx, *station.Id, &apiclient.ListSlotsParams{From: day, To: day})
	matches(t, "listSlots", slots, err, http.StatusOK, slots.Body, slots.JSON200)
	fill, err := media.AutoFillScheduleWithResponse(ctx, apiclient.AutoFillScheduleJSONRequestBody{From: day, To: day})
	matches(t, "autoFillSchedule", fill, err, http.StatusOK, fill.Body, fill.JSON200)
	dl, err := media.ListDeliveriesWithResponse(ctx, &apiclient.ListDeliveriesParams{})
	matches(t, "listDeliveries", dl, err, http.StatusOK, dl.Body, dl.JSON200)

	tl, err := media.GetDeliveryTimelineWithResponse(ctx, &apiclient.GetDeliveryTimelineParams{})
	matches(t, "getDeliveryTimeline", tl, err, http.StatusOK, tl.Body, tl.JSON200)
	pb, err := media.ListPostalBatchesWithResponse(ctx, &apiclient.ListPostalBatchesParams{})
	matches(t, "listPostalBatches", pb, err, http.StatusOK, pb.Body, pb.JSON200)
	plan, err := media.GetPublishingPlanWithResponse(ctx, lesson.Id, &apiclient.GetPublishingPlanParams{})
	matches(t, "getPublishingPlan", plan, err, http.StatusOK, plan.Body, plan.JSON200)
	cl, err := as("a").PutUserClassesWithResponse(ctx, "t1", apiclient.UserClasses{Classes: []string{"0751234A-5B"}})
	matches(t, "putUserClasses", cl, err, http.StatusOK, cl.Body, cl.JSON200)
	cls, err := as("a").GetUserClassesWithResponse(ctx, "t1")
	matches(t, "getUserClasses", cls, err, http.StatusOK, cls.Body, cls.JSON200)
	audit, err := as("a").ListAuditWithResponse(ctx, &apiclient.ListAuditParams{})
	if entries := matches(t, "listAudit", audit, err, http.StatusOK, audit.Body, audit.JSON200); len(entries.Items) == 0 {
		t.Errorf("listAudit = %+v, want the imports and the station", entries)
	}
	erase, err := media.EraseHouseholdWithResponse(ctx, *households.Items[1].Id)
	if err != nil || erase.StatusCode() != http.StatusNoContent {
		t.Errorf("eraseHousehold = %v, %v", erase.StatusCode(), err)
	}

	// An error answer has the spec's Error shape too.
	missing, err := teacher.GetLessonWithResponse(ctx, 999)
	matches(t, "getLesson 404", missing, err, http.StatusNotFound, missing.Body, missing.JSON404)
}

// matches checks one answer of the typed client: no transport error, the status wanted, the body
// decoded by the client into typed (the spec's type for that status), no field the type does not
// name, and the typed value encoding back to the JSON the server sent. It returns the value.
func matches[T any](t *testing.T, op string, resp interface{ StatusCode() int }, err error, status int, body []byte, typed *T) T {
	t.Helper()
	var zero T
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	if resp.StatusCode() != status {
		t.Fatalf("%s: status %d, want %d: %s", op, resp.StatusCode(), status, body)
	}
	if typed == nil {
		t.Fatalf("%s: the client did not decode the %d answer into the spec's type: %s", op, status, body)
		return zero
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var strict T
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("%s: the answer does not fit the spec's type: %v\n%s", op, err, body)
	}
	again, err := json.Marshal(*typed)
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
	var sent, kept any
	json.Unmarshal(body, &sent)
	json.Unmarshal(again, &kept)
	if diff := cmp.Diff(sent, kept); diff != "" {
		t.Errorf("%s: the spec's type loses or changes part of the answer (-server +spec):\n%s", op, diff)
	}
	return *typed
}
