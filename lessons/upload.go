package lessons

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/worksheet"
)

// UploadsPath is where resumable uploads are made (the API's tus endpoint); a finished one becomes a
// lesson when its id is named in the upload's 'upload' field.
const UploadsPath = "/api/v1/uploads"

// Uploads holds finished resumable uploads.
type Uploads interface {
	// Claim finds userID's finished upload named by ref (its id or URL), checks its first bytes and
	// holds it until Release.
	Claim(ctx context.Context, ref, userID string) (ClaimedUpload, error)
}

// ClaimedUpload is a finished upload held for a lesson.
type ClaimedUpload interface {
	Location() string // its data, in the media store
	Name() string     // the file name the client gave
	Remove()          // deletes what is left of it, once its data was moved into a lesson
	Release()         // lets go of it; an upload not removed stays for another try
}

// form is the metadata of an upload.
type form struct {
	fields    map[string]string
	mediaPath string // temp file
	mediaName string
	sheetPath string // temp file, optional
	markdown  string
	upload    string // instead of media: the id or URL of a finished resumable upload
}

const maxFieldBytes = 256 << 10 // a text field, the Markdown lesson included

// UploadLimit is the most bytes one lesson upload request may carry: the media and worksheet, with
// room for the text fields.
func (s *Service) UploadLimit() int64 { return s.cfg.MaxUploadBytes + maxFieldBytes*4 }

// Multipart returns the multipart reader of a lesson upload, or says how to send one.
func Multipart(r *http.Request) (*multipart.Reader, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, relais.Errorf(relais.EINVALID, "Send the lesson as multipart/form-data with a 'media' file and the lesson fields.")
	}
	return mr, nil
}

// Create stores the lesson u uploads (multipart: media or upload, text or text_file, worksheet,
// metadata) and queues its probe. The media is streamed to disk, never held in memory; a finished
// resumable upload named by 'upload' is moved into place instead. The body should be limited to
// UploadLimit bytes (http.MaxBytesReader): going over is refused as too large.
func (s *Service) Create(ctx context.Context, u relais.User, body *multipart.Reader) (relais.Lesson, error) {
	tmpDir := s.cfg.TempDir
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return relais.Lesson{}, err
	}
	f, err := readForm(body, tmpDir)
	defer func() {
		for _, p := range []string{f.mediaPath, f.sheetPath} {
			if p != "" {
				os.Remove(p) // gone already when the upload was kept
			}
		}
	}()
	if err != nil {
		return relais.Lesson{}, err
	}
	var up ClaimedUpload
	if f.upload != "" {
		if s.uploads == nil {
			return relais.Lesson{}, errors.New("lessons: no resumable uploads to claim from")
		}
		if up, err = s.uploads.Claim(ctx, f.upload, u.ID); err != nil {
			return relais.Lesson{}, err
		}
		defer up.Release() // the upload stays for another try until it is moved into a lesson
		f.mediaName = up.Name()
	}
	l, err := s.lessonFromForm(u, f)
	if err != nil {
		return l, err
	}
	if err := s.teacherDefault(ctx, u, &l); err != nil {
		return l, err
	}
	if err := s.store.CreateLesson(ctx, &l); err != nil {
		return l, err
	}
	dir := "lessons/" + strconv.FormatInt(l.ID, 10) + "/"
	ext := strings.ToLower(filepath.Ext(f.mediaName))
	if len(ext) > 8 || strings.ContainsAny(ext, `/\`) {
		ext = ""
	}
	if up != nil {
		l.MediaPath, err = s.media.Move(ctx, up.Location(), dir+"source"+ext)
	} else {
		l.MediaPath, err = s.media.PutFile(ctx, dir+"source"+ext, f.mediaPath)
	}
	if err != nil {
		return l, err
	}
	if up != nil {
		up.Remove()
	}
	if err := s.store.SetLessonMediaPath(ctx, l.ID, l.MediaPath); err != nil {
		return l, err
	}
	if f.sheetPath != "" {
		sheet, err := s.media.PutFile(ctx, dir+"worksheet-upload.pdf", f.sheetPath)
		if err != nil {
			return l, err
		}
		if err := s.store.SetLessonWorksheetPath(ctx, l.ID, sheet); err != nil {
			return l, err
		}
	}
	if err := s.queue.Ingest(ctx, l.ID); err != nil {
		return l, err
	}
	return s.store.Lesson(ctx, l.ID)
}

func readForm(mr *multipart.Reader, tmpDir string) (form, error) {
	f := form{fields: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return f, uploadErr(err)
		}
		name := part.FormName()
		switch {
		case name == "media" && part.FileName() != "":
			if f.mediaPath != "" {
				return f, relais.Errorf(relais.EINVALID, "Send one media file per lesson.")
			}
			f.mediaName = part.FileName()
			f.mediaPath, err = saveMedia(part, tmpDir)
		case name == "worksheet" && part.FileName() != "":
			f.sheetPath, err = saveTemp(part, tmpDir, "worksheet-*.pdf")
		case name == "upload":
			var b []byte
			b, err = readField(part, name)
			f.upload = strings.TrimSpace(string(b))
		case name == "text_file" || name == "text":
			var b []byte
			b, err = readField(part, name)
			f.markdown = string(b)
		default:
			var b []byte
			b, err = readField(part, name)
			f.fields[name] = string(b)
		}
		part.Close()
		if err != nil {
			return f, err
		}
	}
	switch {
	case f.mediaPath != "" && f.upload != "":
		return f, relais.Errorf(relais.EINVALID, "Send the recording once: either as the 'media' file or as a finished upload in the 'upload' field, not both.")
	case f.mediaPath == "" && f.upload == "":
		return f, relais.Errorf(relais.EINVALID, "The lesson needs a video or audio file in the 'media' field, or the id of a finished upload (%s) in the 'upload' field.", UploadsPath)
	}
	return f, nil
}

func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return relais.Errorf(relais.ETOOLARGE, "The upload is larger than the limit of %s. Shorten the lesson or lower its resolution.", relais.HumanBytes(mbe.Limit-maxFieldBytes*4))
	}
	return relais.Errorf(relais.EINVALID, "The upload was cut off or is not valid multipart data (%v); send it again.", err)
}

func readField(p *multipart.Part, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return nil, uploadErr(err)
	}
	if len(b) > maxFieldBytes {
		return nil, relais.Errorf(relais.ETOOLARGE, "The field %q is longer than %s.", name, relais.HumanBytes(maxFieldBytes))
	}
	if !utf8.Valid(b) {
		return nil, relais.Errorf(relais.EINVALID, "The field %q is not UTF-8 text.", name)
	}
	return b, nil
}

// saveMedia streams a media part to a temp file after a first look at its bytes: an empty file, text or
// an image is refused here, before it takes disk space; the probe decides the rest.
func saveMedia(p *multipart.Part, dir string) (string, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(p, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", uploadErr(err)
	}
	head = head[:n]
	if err := SniffMedia(head); err != nil {
		return "", err
	}
	return saveTemp(io.MultiReader(bytes.NewReader(head), p), dir, "media-*")
}

// SniffMedia is the first look at a media file's first 512 bytes (or fewer in a small file), for
// direct and resumable uploads alike.
func SniffMedia(head []byte) error {
	if len(head) == 0 {
		return relais.Errorf(relais.EINVALID, "The media file is empty.")
	}
	switch ct := http.DetectContentType(head); {
	case strings.HasPrefix(ct, "text/"):
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it looks like text). Export the lesson from your camera or editing app as MP4.")
	case strings.HasPrefix(ct, "image/"):
		return relais.Errorf(relais.EINVALID, "This is a picture, not a video or audio file. Upload the recording of the lesson.")
	case ct == "application/pdf":
		return relais.Errorf(relais.EINVALID, "This is a PDF document: send it as the worksheet, and the recording as the media.")
	}
	return nil
}

func saveTemp(r io.Reader, dir, pattern string) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", uploadErr(err)
	}
	return f.Name(), nil
}

func (s *Service) lessonFromForm(u relais.User, f form) (relais.Lesson, error) {
	l := relais.Lesson{
		Title:         strings.TrimSpace(f.fields["title"]),
		Subject:       strings.TrimSpace(f.fields["subject"]),
		Language:      strings.ToLower(strings.TrimSpace(f.fields["language"])),
		Region:        strings.TrimSpace(f.fields["region"]),
		TeacherID:     u.ID,
		Markdown:      f.markdown,
		SegmentBudget: s.cfg.DefaultBudget,
		Status:        relais.LessonUploaded,
	}
	if err := checkLine("title", l.Title, 200, true); err != nil {
		return l, err
	}
	if err := checkLine("subject", l.Subject, 80, true); err != nil {
		return l, err
	}
	if err := checkLine("region", l.Region, 80, false); err != nil {
		return l, err
	}
	if !relais.ValidLanguage(l.Language) {
		return l, relais.Errorf(relais.EINVALID, "language must be one of %s.", strings.Join(relais.Languages, ", "))
	}
	g, err := strconv.Atoi(strings.TrimSpace(f.fields["grade"]))
	if err != nil || g < 0 || g > 13 {
		return l, relais.Errorf(relais.EINVALID, "grade must be a school grade from 0 to 13.")
	}
	l.Grade = g
	if v := strings.TrimSpace(f.fields["segment_budget"]); v != "" {
		b, err := strconv.Atoi(v)
		if err != nil || b < 1 || b > 10 {
			return l, relais.Errorf(relais.EINVALID, "segment_budget must be a number of SMS segments from 1 to 10.")
		}
		l.SegmentBudget = b
	}
	if l.Audience, err = audienceFromForm(f); err != nil {
		return l, err
	}
	if err := s.cfg.PickLists.CheckSubject(l.Subject); err != nil {
		return l, err
	}
	for _, r := range append([]string{l.Region}, l.Audience.Regions...) {
		if err := s.cfg.PickLists.CheckRegion(r); err != nil {
			return l, err
		}
	}
	if strings.TrimSpace(l.Markdown) == "" {
		return l, relais.Errorf(relais.EINVALID, "The lesson needs its text (Markdown) in the 'text' field: the SMS digest and the worksheet are made from it.")
	}
	for _, f := range []struct{ name, text string }{{"title", l.Title}, {"subject", l.Subject}, {"text", l.Markdown}} {
		if err := worksheet.Printable(f.name, f.text); err != nil {
			return l, err
		}
	}
	if u.Role == relais.RoleAdmin || u.Role == relais.RoleMedia {
		if t := strings.TrimSpace(f.fields["teacher_id"]); t != "" {
			l.TeacherID = t // staff upload on a teacher's behalf
		}
	}
	return l, nil
}

// audienceFromForm reads the lesson's audience: audience_grades, audience_languages (of instruction),
// audience_regions, audience_schools and audience_classes, each a list separated by commas. Left out,
// the audience is the lesson's grade in its language and region (relais.Lesson.Reach).
func audienceFromForm(f form) (relais.Audience, error) {
	list := func(name string) []string {
		var out []string
		for _, v := range strings.Split(f.fields[name], ",") {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		return out
	}
	a := relais.Audience{Regions: list("audience_regions"), Schools: list("audience_schools"), Classes: list("audience_classes")}
	for _, v := range list("audience_languages") {
		a.Languages = append(a.Languages, strings.ToLower(v))
	}
	for _, v := range list("audience_grades") {
		g, err := strconv.Atoi(v)
		if err != nil || g < 0 || g > 13 {
			return a, relais.Errorf(relais.EINVALID, "audience_grades must list school grades from 0 to 13, separated by commas.")
		}
		a.Grades = append(a.Grades, g)
	}
	return a, a.Check()
}

// teacherDefault gives a teacher's lesson that names no regions, schools or classes the classes the
// teacher is linked to (relais.ClassStore): a teacher teaches their own classes, where a media unit
// targets grades, regions or the nation.
func (s *Service) teacherDefault(ctx context.Context, u relais.User, l *relais.Lesson) error {
	a := &l.Audience
	if u.Role != relais.RoleTeacher || len(a.Regions)+len(a.Schools)+len(a.Classes) > 0 {
		return nil
	}
	classes, err := s.store.UserClasses(ctx, u.ID)
	if err != nil {
		return err
	}
	a.Classes = classes
	return nil
}

// checkLine refuses control characters, overlong or missing values in a one-line field. Markup is not
// refused: it is text, and every output escapes it.
func checkLine(name, v string, max int, required bool) error {
	if required && v == "" {
		return relais.Errorf(relais.EINVALID, "%s is required.", name)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return relais.Errorf(relais.EINVALID, "%s is %d characters long; the limit is %d.", name, n, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return relais.Errorf(relais.EINVALID, "%s contains an invisible control character (U+%04X); retype it.", name, r)
		}
	}
	return nil
}
