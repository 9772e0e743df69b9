package relais

import (
	"slices"
	"testing"
)

func TestErrorTemplate(t *testing.T) {
	e := Errorf(EINVALID, "Lesson %d has no %q rendition (yet).", 4, "radio")
	if want := "Lesson 4 has no \"radio\" rendition (yet)."; e.Message != want {
		t.Errorf("Message = %q, want %q", e.Message, want)
	}
	format, args := e.Template()
	if format != "Lesson %d has no %q rendition (yet)." || !slices.Equal(args, []any{4, "radio"}) {
		t.Errorf("Template() = %q, %v", format, args)
	}
	if format, args := (&Error{Code: EINVALID, Message: "x"}).Template(); format != "" || args != nil {
		t.Errorf("literal Error: Template() = %q, %v, want empty", format, args)
	}
}

func TestErrorfNestedError(t *testing.T) {
	inner := Errorf(EINVALID, "The lesson lasts %s.", "40 min")
	e := Errorf(EINVALID, "Lesson %d does not fit slot %d: %s", 3, 4, inner)
	if want := "Lesson 3 does not fit slot 4: The lesson lasts 40 min."; e.Message != want {
		t.Errorf("Message = %q, want %q", e.Message, want)
	}
	if _, args := e.Template(); args[2] != inner {
		t.Errorf("Template() args = %v, want the inner error kept", args)
	}
}

func TestHTTPStatus(t *testing.T) {
	for code, want := range map[string]int{ECONFLICT: 409, EINVALID: 400, ENOTFOUND: 404, EUNAUTHORIZED: 401,
		EFORBIDDEN: 403, ETOOLARGE: 413, EINTERNAL: 500, "no_such_code": 500} {
		if got := HTTPStatus(code); got != want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
		}
	}
}
