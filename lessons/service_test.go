package lessons_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/store/sqlite"
)

// fakeQueue records what the service queued.
type fakeQueue struct {
	ingested, published []int64
}

var _ lessons.Queue = (*fakeQueue)(nil)

func (q *fakeQueue) Ingest(_ context.Context, id int64) error {
	q.ingested = append(q.ingested, id)
	return nil
}
func (q *fakeQueue) Publish(_ context.Context, id int64) error {
	q.published = append(q.published, id)
	return nil
}

// postalQueue is a queue that also makes postal batches.
type postalQueue struct {
	fakeQueue
	batches []int64
}

var _ lessons.PostalQueue = (*postalQueue)(nil)

func (q *postalQueue) PostalBatch(_ context.Context, id int64) error {
	q.batches = append(q.batches, id)
	return nil
}

var (
	teacher1 = relais.User{ID: "t1", Role: relais.RoleTeacher}
	teacher2 = relais.User{ID: "t2", Role: relais.RoleTeacher}
	media    = relais.User{ID: "m", Role: relais.RoleMedia}
)

type env struct {
	store *sqlite.DB
	svc   *lessons.Service
	dir   string
}

func newEnv(t *testing.T, q lessons.Queue) env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "relais.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC) }
	svc := lessons.New(db, q, nil, lessons.Config{MediaDir: filepath.Join(dir, "media"), MaxUploadBytes: 1 << 20, DefaultBudget: 3}, now)
	return env{store: db, svc: svc, dir: dir}
}

// lesson stores a lesson of teacherID in status.
func (e env) lesson(t *testing.T, teacherID string, status relais.LessonStatus) relais.Lesson {
	t.Helper()
	ctx := context.Background()
	l := relais.Lesson{Title: "Fractions", Subject: "math", Grade: 5, Language: "fr", TeacherID: teacherID,
		Markdown: "- a half", SegmentBudget: 3, Status: relais.LessonUploaded}
	if err := e.store.CreateLesson(ctx, &l); err != nil {
		t.Fatal(err)
	}
	if status != relais.LessonUploaded {
		if err := e.store.SetLessonStatus(ctx, l.ID, status, nil); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.store.Lesson(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// upload is a multipart lesson upload of fields and, unless media is nil, a media file.
func upload(t *testing.T, fields map[string]string, media []byte) *multipart.Reader {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if media != nil {
		fw, _ := mw.CreateFormFile("media", "lesson.MP4")
		fw.Write(media)
	}
	mw.Close()
	return multipart.NewReader(&b, mw.Boundary())
}

// mp4 starts like an MP4 file: not text, not a picture.
var mp4 = append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"), make([]byte, 600)...)

func TestCreateStoresTheLessonMovesTheMediaAndQueuesItsProbe(t *testing.T) {
	q := &fakeQueue{}
	e := newEnv(t, q)
	ctx := context.Background()
	fields := map[string]string{"title": " Les fractions ", "subject": "math", "grade": "5", "language": "FR",
		"text": "# Fractions\n- a half", "teacher_id": "t9"}

	l, err := e.svc.Create(ctx, teacher1, upload(t, fields, mp4))
	if err != nil {
		t.Fatal(err)
	}
	want := relais.Lesson{ID: l.ID, Title: "Les fractions", Subject: "math", Grade: 5, Language: "fr", TeacherID: "t1",
		SegmentBudget: 3, Status: relais.LessonUploaded}
	got := relais.Lesson{ID: l.ID, Title: l.Title, Subject: l.Subject, Grade: l.Grade, Language: l.Language,
		TeacherID: l.TeacherID, SegmentBudget: l.SegmentBudget, Status: l.Status}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lesson (-want +got):\n%s", diff) // a teacher cannot upload on another's behalf
	}
	if want := filepath.Join(e.dir, "media", "lessons", "1", "source.mp4"); l.MediaPath != want {
		t.Errorf("MediaPath = %q, want %q", l.MediaPath, want)
	}
	if b, err := os.ReadFile(l.MediaPath); err != nil || !bytes.Equal(b, mp4) {
		t.Errorf("stored media: %d bytes, %v", len(b), err)
	}
	if diff := cmp.Diff([]int64{l.ID}, q.ingested); diff != "" {
		t.Errorf("ingested (-want +got):\n%s", diff)
	}
	temps, _ := filepath.Glob(filepath.Join(e.dir, "media", "uploads", "*"))
	if len(temps) != 0 {
		t.Errorf("temp files left: %v", temps)
	}

	staff, err := e.svc.Create(ctx, media, upload(t, fields, mp4))
	if err != nil || staff.TeacherID != "t9" {
		t.Errorf("staff upload on a teacher's behalf: teacher %q, %v", staff.TeacherID, err)
	}
}

func TestCreateRefusals(t *testing.T) {
	good := map[string]string{"title": "Fractions", "subject": "math", "grade": "5", "language": "fr", "text": "- a half"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 100)...)
	for _, tc := range []struct {
		name   string
		fields map[string]string
		media  []byte
		code   string
		msg    string
	}{
		{"no media", good, nil, relais.EINVALID, "The lesson needs a video or audio file in the 'media' field, or the id of a finished upload (/api/v1/uploads) in the 'upload' field."},
		{"a picture", good, png, relais.EINVALID, "This is a picture, not a video or audio file. Upload the recording of the lesson."},
		{"no text", with("text", " "), mp4, relais.EINVALID, "The lesson needs its text (Markdown) in the 'text' field: the SMS digest and the worksheet are made from it."},
		{"grade", with("grade", "14"), mp4, relais.EINVALID, "grade must be a school grade from 0 to 13."},
		{"control character", with("title", "Frac\u202etions"), mp4, relais.EINVALID, "title contains an invisible control character (U+202E); retype it."},
		{"language", with("language", "de"), mp4, relais.EINVALID, "language must be one of " + strings.Join(relais.Languages, ", ") + "."},
		// Accepted, these once left the lesson stuck: its worksheet could not be rendered.
		{"emoji in the text", with("text", "- Bravo 🎉"), mp4, relais.EINVALID,
			"The text contains characters that worksheets and postal letters cannot print: 🎉 (U+1F389). Remove them or write them as words."},
		{"Arabic title", with("title", "الكسور"), mp4, relais.EINVALID,
			`The title is written in a right-to-left script ("ا", U+0627), which worksheets and postal letters cannot print yet. Write it in French, Kazakh, Russian or English.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeQueue{}
			e := newEnv(t, q)
			_, err := e.svc.Create(context.Background(), teacher1, upload(t, tc.fields, tc.media))
			if relais.ErrorCode(err) != tc.code || relais.ErrorMessage(err) != tc.msg {
				t.Errorf("err = %v, want %s %q", err, tc.code, tc.msg)
			}
			if len(q.ingested) != 0 {
				t.Errorf("queued %v", q.ingested)
			}
		})
	}
}

func TestCreateOverTheLimitIsTooLarge(t *testing.T) {
	e := newEnv(t, &fakeQueue{})
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("title", "Fractions")
	fw, _ := mw.CreateFormFile("media", "big.mp4")
	fw.Write(append(mp4, make([]byte, 2<<20)...))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, "/", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Body = http.MaxBytesReader(nil, req.Body, e.svc.UploadLimit())
	mr, err := lessons.Multipart(req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Create(context.Background(), teacher1, mr)
	if want := "The upload is larger than the limit of 1.0 MiB. Shorten the lesson or lower its resolution."; relais.ErrorCode(err) != relais.ETOOLARGE || relais.ErrorMessage(err) != want {
		t.Errorf("err = %v, want too large: %q", err, want)
	}
}

func TestVisibleHidesAnotherTeachersLesson(t *testing.T) {
	e := newEnv(t, &fakeQueue{})
	l := e.lesson(t, "t1", relais.LessonReady)
	ctx := context.Background()
	for _, tc := range []struct {
		user relais.User
		code string
	}{{teacher1, ""}, {teacher2, relais.ENOTFOUND}, {media, ""}} {
		_, err := e.svc.Visible(ctx, tc.user, l.ID)
		if relais.ErrorCode(err) != tc.code {
			t.Errorf("%s: err = %v, want code %q", tc.user.ID, err, tc.code)
		}
		_, err = e.svc.Detail(ctx, tc.user, l.ID, "en")
		if relais.ErrorCode(err) != tc.code {
			t.Errorf("%s: Detail err = %v, want code %q", tc.user.ID, err, tc.code)
		}
	}
}

func TestPublish(t *testing.T) {
	q := &fakeQueue{}
	e := newEnv(t, q)
	ctx := context.Background()
	processing := e.lesson(t, "t1", relais.LessonProcessing)
	_, err := e.svc.Publish(ctx, media, processing.ID, "en")
	if want := "The lesson is still being processed (waiting, 0 %); publish it when its status is ready."; relais.ErrorCode(err) != relais.ECONFLICT || relais.ErrorMessage(err) != want {
		t.Errorf("processing: err = %v, want %q", err, want)
	}
	ready := e.lesson(t, "t1", relais.LessonReady)
	l, err := e.svc.Publish(ctx, media, ready.ID, "en")
	if err != nil || l.Status != relais.LessonPublished {
		t.Fatalf("ready: %s, %v", l.Status, err)
	}
	if _, err := e.svc.Publish(ctx, media, ready.ID, "en"); err != nil {
		t.Errorf("again: %v", err)
	}
	if diff := cmp.Diff([]int64{ready.ID, ready.ID}, q.published); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff) // publishing again queues again, harmlessly
	}
}

func TestPlanRefusesBadAssumptions(t *testing.T) {
	e := newEnv(t, &fakeQueue{})
	l := e.lesson(t, "t1", relais.LessonReady)
	for _, tc := range []struct {
		o   lessons.PlanOptions
		msg string
	}{
		{lessons.PlanOptions{At: "tomorrow"}, "at must be a time such as 2026-03-02T18:00:00Z."},
		{lessons.PlanOptions{SMSRate: "0"}, "sms_rate must be a positive number."},
		{lessons.PlanOptions{EmailRate: "fast"}, "email_rate must be a positive number."},
		{lessons.PlanOptions{PostalLeadDays: "-1"}, "postal_lead_days must be a number of days."},
	} {
		_, err := e.svc.Plan(context.Background(), l.ID, tc.o)
		if relais.ErrorCode(err) != relais.EINVALID || relais.ErrorMessage(err) != tc.msg {
			t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.msg)
		}
	}
	sum, err := e.svc.Plan(context.Background(), l.ID, lessons.PlanOptions{})
	if err != nil || !sum.At.Equal(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("default plan at %v, %v; want the service's now", sum.At, err)
	}
}

func TestCreatePostalBatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, &fakeQueue{})
	l := e.lesson(t, "t1", relais.LessonPublished)
	if _, _, err := e.svc.CreatePostalBatch(ctx, media, l.ID, ""); relais.ErrorCode(err) != relais.EINVALID {
		t.Errorf("no region: err = %v, want invalid", err)
	}
	if _, _, err := e.svc.CreatePostalBatch(ctx, teacher2, l.ID, "IDF"); relais.ErrorCode(err) != relais.ENOTFOUND {
		t.Errorf("another teacher's lesson: err = %v, want not found", err)
	}
	if _, _, err := e.svc.CreatePostalBatch(ctx, media, l.ID, "IDF"); relais.ErrorCode(err) != relais.EINTERNAL {
		t.Errorf("a queue without postal batches: err = %v, want internal", err)
	}

	q := &postalQueue{}
	e = newEnv(t, q)
	l = e.lesson(t, "t1", relais.LessonPublished)
	_, _, err := e.svc.CreatePostalBatch(ctx, media, l.ID, "IDF")
	if relais.ErrorCode(err) != relais.EINVALID || len(q.batches) != 0 {
		t.Errorf("no packet waiting: err = %v, queued %v; want invalid, none queued", err, q.batches)
	}
}
