package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/locale"
)

// Lesson is the JSON form of a lesson.
type Lesson struct {
	ID              int64               `json:"id"`
	Title           string              `json:"title"`
	Subject         string              `json:"subject"`
	Grade           int                 `json:"grade"`
	Language        string              `json:"language"`
	Region          string              `json:"region"`
	TeacherID       string              `json:"teacher_id"`
	Status          relais.LessonStatus `json:"status"`
	StatusReason    string              `json:"status_reason,omitempty"`
	Progress        Progress            `json:"progress"`
	DurationSeconds float64             `json:"duration_seconds"`
	SegmentBudget   int                 `json:"segment_budget"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
	// Filled on GET /api/v1/lessons/{id} only.
	Renditions []Rendition                                            `json:"renditions,omitempty"`
	Digests    []Digest                                               `json:"digests,omitempty"`
	Worksheet  *Worksheet                                             `json:"worksheet,omitempty"`
	Deliveries map[relais.ChannelName]map[relais.DeliveryStatus]int64 `json:"deliveries,omitempty"`
}

// Progress is the current processing step.
type Progress struct {
	Step    string `json:"step"`
	Percent int    `json:"percent"`
}

// Rendition is the JSON form of a rendition.
type Rendition struct {
	Kind            relais.RenditionKind `json:"kind"`
	URL             string               `json:"url"`
	Container       string               `json:"container"`
	VideoCodec      string               `json:"video_codec,omitempty"`
	AudioCodec      string               `json:"audio_codec"`
	Width           int                  `json:"width,omitempty"`
	Height          int                  `json:"height,omitempty"`
	SampleRate      int                  `json:"sample_rate"`
	Channels        int                  `json:"channels"`
	BitRate         int64                `json:"bit_rate"`
	DurationSeconds float64              `json:"duration_seconds"`
	Bytes           int64                `json:"bytes"`
	Loudness        Loudness             `json:"loudness"`
}

// Loudness is an EBU R 128 measurement.
type Loudness struct {
	IntegratedLUFS float64 `json:"integrated_lufs"`
	TruePeakDBTP   float64 `json:"true_peak_dbtp"`
	LRA            float64 `json:"lra"`
}

// Digest is the JSON form of an SMS digest.
type Digest struct {
	Language   string   `json:"language"`
	Body       string   `json:"body"`
	Encoding   string   `json:"encoding"`
	Segments   int      `json:"segments"`
	Characters int      `json:"characters"`
	Dropped    []string `json:"dropped"`
}

// Worksheet is the JSON form of a worksheet.
type Worksheet struct {
	URL       string `json:"url"`
	Bytes     int64  `json:"bytes"`
	Generated bool   `json:"generated"`
}

// lessonJSON is l as the API shows it to a client reading lang: the status reason in lang when it was
// kept in lang, else in English.
func lessonJSON(l relais.Lesson, lang string) Lesson {
	return Lesson{ID: l.ID, Title: l.Title, Subject: l.Subject, Grade: l.Grade, Language: l.Language, Region: l.Region,
		TeacherID: l.TeacherID, Status: l.Status, StatusReason: l.Reason(lang),
		Progress: Progress{Step: l.Step, Percent: l.Progress}, DurationSeconds: float64(l.DurationMS) / 1000,
		SegmentBudget: l.SegmentBudget, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
}

// lessonForm is the metadata of an upload.
type lessonForm struct {
	fields    map[string]string
	mediaPath string // temp file
	mediaName string
	sheetPath string // temp file, optional
	markdown  string
	upload    string // instead of media: the id or URL of a finished resumable upload (api/uploads.go)
}

const maxFieldBytes = 256 << 10 // a text field, the Markdown lesson included

// createLesson stores an upload (multipart: media or upload, text or text_file, worksheet, metadata)
// and queues its probe. The media is streamed to disk, never held in memory; a finished resumable
// upload named by 'upload' is moved into place instead.
func (s *Server) createLesson(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUploadBytes+maxFieldBytes*4)
	tmpDir := filepath.Join(s.cfg.MediaDir, "uploads")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return err
	}
	f, err := s.readLessonForm(r, tmpDir)
	defer func() {
		for _, p := range []string{f.mediaPath, f.sheetPath} {
			if p != "" {
				os.Remove(p) // gone already when the upload was kept
			}
		}
	}()
	if err != nil {
		return err
	}
	media := f.mediaPath
	var up *claimedUpload
	if f.upload != "" {
		if up, err = s.uploads.claim(ctx, f.upload, userFrom(ctx).ID); err != nil {
			return err
		}
		defer up.release() // the upload stays for another try until it is moved into a lesson
		media, f.mediaName = up.path, up.name
	}
	l, err := s.lessonFromForm(ctx, f)
	if err != nil {
		return err
	}
	if err := s.store.CreateLesson(ctx, &l); err != nil {
		return err
	}
	dir := filepath.Join(s.cfg.MediaDir, "lessons", strconv.FormatInt(l.ID, 10))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(f.mediaName))
	if len(ext) > 8 || strings.ContainsAny(ext, `/\`) {
		ext = ""
	}
	l.MediaPath = filepath.Join(dir, "source"+ext)
	if err := os.Rename(media, l.MediaPath); err != nil {
		return err
	}
	if up != nil {
		up.remove()
	}
	if err := s.store.SetLessonMediaPath(ctx, l.ID, l.MediaPath); err != nil {
		return err
	}
	if f.sheetPath != "" {
		sheet := filepath.Join(dir, "worksheet-upload.pdf")
		if err := os.Rename(f.sheetPath, sheet); err != nil {
			return err
		}
		if err := s.store.SetLessonWorksheetPath(ctx, l.ID, sheet); err != nil {
			return err
		}
	}
	if err := s.queue.Ingest(ctx, l.ID); err != nil {
		return err
	}
	l, err = s.store.Lesson(ctx, l.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/lessons/%d", l.ID))
	writeJSON(w, http.StatusCreated, lessonJSON(l, locale.Accept(r.Header.Get("Accept-Language"))))
	return nil
}

func (s *Server) readLessonForm(r *http.Request, tmpDir string) (lessonForm, error) {
	f := lessonForm{fields: map[string]string{}}
	mr, err := r.MultipartReader()
	if err != nil {
		return f, relais.Errorf(relais.EINVALID, "Send the lesson as multipart/form-data with a 'media' file and the lesson fields.")
	}
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
			f.sheetPath, err = saveWorksheet(part, tmpDir)
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
		return f, relais.Errorf(relais.EINVALID, "The lesson needs a video or audio file in the 'media' field, or the id of a finished upload (%s) in the 'upload' field.", uploadsPath)
	}
	return f, nil
}

func uploadErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return relais.Errorf(relais.ETOOLARGE, "The upload is larger than the limit of %s. Shorten the lesson or lower its resolution.", humanBytes(mbe.Limit-maxFieldBytes*4))
	}
	return relais.Errorf(relais.EINVALID, "The upload was cut off or is not valid multipart data (%v); send it again.", err)
}

func readField(p *multipart.Part, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return nil, uploadErr(err)
	}
	if len(b) > maxFieldBytes {
		return nil, relais.Errorf(relais.ETOOLARGE, "The field %q is longer than %s.", name, humanBytes(maxFieldBytes))
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
	if err := sniffMedia(head); err != nil {
		return "", err
	}
	return saveTemp(io.MultiReader(bytes.NewReader(head), p), dir, "media-*")
}

// sniffMedia is the first look at a media file's first 512 bytes (or fewer in a small file), for
// direct and resumable uploads alike.
func sniffMedia(head []byte) error {
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

func saveWorksheet(p *multipart.Part, dir string) (string, error) {
	return saveTemp(p, dir, "worksheet-*.pdf")
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

func (s *Server) lessonFromForm(ctx context.Context, f lessonForm) (relais.Lesson, error) {
	u := userFrom(ctx)
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
	if strings.TrimSpace(l.Markdown) == "" {
		return l, relais.Errorf(relais.EINVALID, "The lesson needs its text (Markdown) in the 'text' field: the SMS digest and the worksheet are made from it.")
	}
	if u.Role == relais.RoleAdmin || u.Role == relais.RoleMedia {
		if t := strings.TrimSpace(f.fields["teacher_id"]); t != "" {
			l.TeacherID = t // staff upload on a teacher's behalf
		}
	}
	return l, nil
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

func (s *Server) listLessons(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	f := relais.LessonFilter{Status: relais.LessonStatus(r.URL.Query().Get("status")), Page: p}
	if u := userFrom(r.Context()); !u.CanSeeAllLessons() {
		f.TeacherID = u.ID
	} else {
		f.TeacherID = r.URL.Query().Get("teacher_id")
	}
	ls, err := s.store.Lessons(r.Context(), f)
	if err != nil {
		return err
	}
	lang := locale.Accept(r.Header.Get("Accept-Language"))
	items := make([]Lesson, len(ls))
	for i, l := range ls {
		items[i] = lessonJSON(l, lang)
	}
	resp := map[string]any{"items": items}
	if len(ls) == p.Limit {
		resp["next_after"] = ls[len(ls)-1].ID // lessons are listed newest first
	}
	writeJSON(w, 200, resp)
	return nil
}

func (s *Server) getLesson(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := s.visibleLesson(ctx, id)
	if err != nil {
		return err
	}
	out := lessonJSON(l, locale.Accept(r.Header.Get("Accept-Language")))
	rs, err := s.store.Renditions(ctx, id)
	if err != nil {
		return err
	}
	for _, x := range rs {
		out.Renditions = append(out.Renditions, Rendition{Kind: x.Kind, URL: fmt.Sprintf("/api/v1/lessons/%d/renditions/%s", id, x.Kind),
			Container: x.Container, VideoCodec: x.VideoCodec, AudioCodec: x.AudioCodec, Width: x.Width, Height: x.Height,
			SampleRate: x.SampleRate, Channels: x.Channels, BitRate: x.BitRate, DurationSeconds: float64(x.DurationMS) / 1000,
			Bytes: x.Bytes, Loudness: Loudness{IntegratedLUFS: x.IntegratedLUFS, TruePeakDBTP: x.TruePeakDBTP, LRA: x.LRA}})
	}
	ds, err := s.store.Digests(ctx, id)
	if err != nil {
		return err
	}
	for _, d := range ds {
		dropped := d.Dropped
		if dropped == nil {
			dropped = []string{}
		}
		out.Digests = append(out.Digests, Digest{Language: d.Language, Body: d.Body, Encoding: d.Encoding,
			Segments: d.Segments, Characters: d.Characters, Dropped: dropped})
	}
	if ws, err := s.store.Worksheet(ctx, id); err == nil {
		out.Worksheet = &Worksheet{URL: fmt.Sprintf("/api/v1/lessons/%d/worksheet", id), Bytes: ws.Bytes, Generated: ws.Generated}
	} else if relais.ErrorCode(err) != relais.ENOTFOUND {
		return err
	}
	counts, err := s.store.DeliveryCounts(ctx, id)
	if err != nil {
		return err
	}
	if len(counts) > 0 {
		out.Deliveries = map[relais.ChannelName]map[relais.DeliveryStatus]int64{}
		for _, c := range counts {
			if out.Deliveries[c.Channel] == nil {
				out.Deliveries[c.Channel] = map[relais.DeliveryStatus]int64{}
			}
			out.Deliveries[c.Channel][c.Status] = c.Count
		}
	}
	writeJSON(w, 200, out)
	return nil
}

var renditionTypes = map[string]string{".ts": "video/mp2t", ".mp2": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".m4a": "audio/mp4", ".pdf": "application/pdf"}

func (s *Server) getRenditionFile(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := s.visibleLesson(r.Context(), id); err != nil {
		return err
	}
	rs, err := s.store.Renditions(r.Context(), id)
	if err != nil {
		return err
	}
	for _, x := range rs {
		if string(x.Kind) == r.PathValue("kind") {
			serveFile(w, r, x.Path)
			return nil
		}
	}
	return relais.Errorf(relais.ENOTFOUND, "Lesson %d has no %q rendition (yet).", id, r.PathValue("kind"))
}

func (s *Server) getWorksheetFile(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := s.visibleLesson(r.Context(), id); err != nil {
		return err
	}
	ws, err := s.store.Worksheet(r.Context(), id)
	if err != nil {
		return err
	}
	serveFile(w, r, ws.Path)
	return nil
}

func serveFile(w http.ResponseWriter, r *http.Request, path string) {
	if ct, ok := renditionTypes[strings.ToLower(filepath.Ext(path))]; ok {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFile(w, r, path)
}

func (s *Server) publishLesson(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := s.visibleLesson(ctx, id)
	if err != nil {
		return err
	}
	switch l.Status {
	case relais.LessonReady:
		if err := s.store.SetLessonStatus(ctx, id, relais.LessonPublished, nil); err != nil {
			return err
		}
	case relais.LessonPublished:
		// Publishing twice is harmless: the fan-out is keyed by lesson and page.
	case relais.LessonUploaded, relais.LessonProcessing:
		return relais.Errorf(relais.ECONFLICT, "The lesson is still being processed (%s, %d %%); publish it when its status is ready.", orDash(l.Step), l.Progress)
	default:
		return relais.Errorf(relais.ECONFLICT, "The lesson cannot be published: it was %s (%s).", l.Status,
			l.Reason(locale.Accept(r.Header.Get("Accept-Language"))))
	}
	if err := s.queue.Publish(ctx, id); err != nil {
		return err
	}
	l, err = s.store.Lesson(ctx, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, lessonJSON(l, locale.Accept(r.Header.Get("Accept-Language"))))
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "waiting"
	}
	return s
}
