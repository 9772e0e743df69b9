package relais

import "time"

// LessonStatus is where a lesson is in its pipeline.
type LessonStatus string

const (
	LessonUploaded   LessonStatus = "uploaded"   // stored, waiting for the probe
	LessonProcessing LessonStatus = "processing" // probed and accepted, renditions in progress
	LessonReady      LessonStatus = "ready"      // every rendition, the digest and the worksheet exist
	LessonRejected   LessonStatus = "rejected"   // the upload was refused; StatusReason says why
	LessonFailed     LessonStatus = "failed"     // processing failed; StatusReason says why
	LessonPublished  LessonStatus = "published"  // fan-out started
)

// Lesson is what a teacher uploads once.
type Lesson struct {
	ID            int64
	Title         string
	Subject       string
	Grade         int
	Language      string
	Region        string
	Audience      Audience // as given; Reach fills in the defaults from Grade, Language and Region
	TeacherID     string
	Status        LessonStatus
	StatusReason  string
	StatusReasons map[string]string // StatusReason in other languages, by language ("fr")
	Step          string            // current processing step, e.g. "transcode"
	Progress      int               // percent done of the current step, 0-100
	MediaPath     string            // the upload as received, under the media directory
	Markdown      string            // the lesson text
	WorksheetPath string            // the teacher's PDF, when given
	SegmentBudget int               // SMS segments the digest may use
	DurationMS    int64             // media duration, from the probe
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Reason returns StatusReason in lang, in English when it was not kept in lang.
func (l Lesson) Reason(lang string) string {
	if r, ok := l.StatusReasons[lang]; ok && r != "" {
		return r
	}
	return l.StatusReason
}

// LessonFilter selects lessons in a listing.
type LessonFilter struct {
	TeacherID string // empty: all teachers
	Status    LessonStatus
	Page      Page
}

// RenditionKind names one output of the media pipeline.
type RenditionKind string

const (
	RenditionTV      RenditionKind = "tv"      // MPEG-TS for terrestrial playout
	RenditionRadio   RenditionKind = "radio"   // MP2 for radio playout
	RenditionLowband RenditionKind = "lowband" // mono Opus for families on mobile data
)

// Rendition is one produced media file with its measured figures.
type Rendition struct {
	LessonID       int64
	Kind           RenditionKind
	Path           string
	Container      string
	VideoCodec     string
	AudioCodec     string
	Width          int
	Height         int
	SampleRate     int
	Channels       int
	BitRate        int64 // bits per second, of the whole file
	DurationMS     int64
	Bytes          int64
	IntegratedLUFS float64
	TruePeakDBTP   float64
	LRA            float64
	CreatedAt      time.Time
}

// Digest is the SMS text of a lesson in one language.
type Digest struct {
	LessonID   int64
	Language   string
	Body       string
	Encoding   string // "GSM-7" or "UCS-2"
	Segments   int
	Characters int
	Dropped    []string // content left out to fit the budget
	CreatedAt  time.Time
}

// Worksheet is the PDF that goes by email and by post.
type Worksheet struct {
	LessonID  int64
	Path      string
	Bytes     int64
	Generated bool // true when Relais rendered it from the Markdown
	CreatedAt time.Time
}
