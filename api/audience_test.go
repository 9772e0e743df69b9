package api

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLessonAudience: an admin links a teacher to classes; the teacher's lesson goes to those classes
// by default, or to the audience the upload names; a media unit's lesson targets grades and regions.
func TestLessonAudience(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	classes := strings.NewReader(`{"classes": ["S1-5A", "S1-5B"]}`)
	if status, out := f.do("PUT", "/api/v1/users/t1/classes", "m", classes, "application/json"); status != 403 {
		t.Errorf("media setting a teacher's classes: %d %v, want 403", status, out)
	}
	classes = strings.NewReader(`{"classes": ["S1-5A", "S1-5B"]}`)
	status, out := f.do("PUT", "/api/v1/users/t1/classes", "a", classes, "application/json")
	if status != 200 || !cmp.Equal(out["classes"], []any{"S1-5A", "S1-5B"}) {
		t.Fatalf("admin setting t1's classes: %d %v", status, out)
	}
	if status, out := f.do("PUT", "/api/v1/users/t1/classes", "a", strings.NewReader(`{"classes": ["a;b"]}`), "application/json"); status != 400 {
		t.Errorf("a class code with a separator: %d %v, want 400", status, out)
	}
	if got, _ := f.store.UserClasses(ctx, "t1"); !cmp.Equal(got, []string{"S1-5A", "S1-5B"}) {
		t.Errorf("t1's classes after a refused set = %v", got)
	}

	upload := func(user string, edit func(map[string]string)) map[string]any {
		t.Helper()
		fields := goodFields()
		if edit != nil {
			edit(fields)
		}
		body, ct := multipartBody(fields, map[string][]byte{"media": mp4Head})
		status, out := f.do("POST", "/api/v1/lessons", user, body, ct)
		if status != 201 {
			t.Fatalf("upload by %s: %d %v", user, status, out)
		}
		return out["audience"].(map[string]any)
	}
	for _, tc := range []struct {
		name string
		user string
		edit func(map[string]string)
		want map[string]any
	}{
		{"teacher's classes by default", "t1", nil,
			map[string]any{"grades": []any{5.0}, "languages": []any{"fr"}, "classes": []any{"S1-5A", "S1-5B"}}},
		{"a teacher's named class", "t1", func(m map[string]string) { m["audience_classes"] = "S1-5B" },
			map[string]any{"grades": []any{5.0}, "languages": []any{"fr"}, "classes": []any{"S1-5B"}}},
		{"a teacher with no classes: the grade", "t2", nil,
			map[string]any{"grades": []any{5.0}, "languages": []any{"fr"}}},
		{"media unit: grades, languages of instruction, regions", "m", func(m map[string]string) {
			m["audience_grades"], m["audience_languages"], m["audience_regions"] = "5, 6", "FR,kk", "IDF"
		}, map[string]any{"grades": []any{5.0, 6.0}, "languages": []any{"fr", "kk"}, "regions": []any{"IDF"}}},
		{"media unit: a region by the lesson's region", "m", func(m map[string]string) { m["region"] = "IDF" },
			map[string]any{"grades": []any{5.0}, "languages": []any{"fr"}, "regions": []any{"IDF"}}},
		{"media unit: the nation", "m", nil, map[string]any{"grades": []any{5.0}, "languages": []any{"fr"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, upload(tc.user, tc.edit)); diff != "" {
				t.Errorf("audience (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []struct{ field, value, msg string }{
		{"audience_grades", "5,x", "audience_grades must list school grades from 0 to 13, separated by commas."},
		{"audience_languages", "de", `Audience language "de" is not one of fr, kk, ru, en.`},
	} {
		fields := goodFields()
		fields[bad.field] = bad.value
		body, ct := multipartBody(fields, map[string][]byte{"media": mp4Head})
		if status, out := f.do("POST", "/api/v1/lessons", "t1", body, ct); status != 400 || errMessage(out) != bad.msg {
			t.Errorf("%s=%s: %d %q, want 400 %q", bad.field, bad.value, status, errMessage(out), bad.msg)
		}
	}
}

// TestHouseholdPupils: the household JSON lists the pupils, and an import's pupils column lands there.
func TestHouseholdPupils(t *testing.T) {
	f := newFixture(t, nil)
	csv := "external_ref,language,pupils,profile,phone\nK1,ru,5:kk:S1:S1-5A;7:ru,sms_only,+77012345678\n"
	if status, out := f.do("POST", "/api/v1/households/import", "m", strings.NewReader(csv), "text/csv"); status != 200 {
		t.Fatalf("import: %d %v", status, out)
	}
	status, out := f.do("GET", "/api/v1/households", "m", nil, "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, out)
	}
	h := out["items"].([]any)[0].(map[string]any)
	want := []any{
		map[string]any{"grade": 5.0, "language": "kk", "school": "S1", "class": "S1-5A"},
		map[string]any{"grade": 7.0, "language": "ru"},
	}
	if diff := cmp.Diff(want, h["pupils"]); diff != "" || h["language"] != "ru" {
		t.Errorf("household %v: pupils (-want +got):\n%s", h, diff)
	}
}
