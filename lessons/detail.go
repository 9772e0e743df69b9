package lessons

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

// Detail is a lesson as its readers see it, in the API's JSON and on the lesson page: its fields, and
// on Service.Detail its renditions, digests, worksheet and delivery counts.
type Detail struct {
	ID              int64               `json:"id"`
	Title           string              `json:"title"`
	Subject         string              `json:"subject"`
	Grade           int                 `json:"grade"`
	Language        string              `json:"language"`
	Region          string              `json:"region"`
	Audience        relais.Audience     `json:"audience"` // who the lesson is for, defaults filled in
	TeacherID       string              `json:"teacher_id"`
	Status          relais.LessonStatus `json:"status"`
	StatusReason    string              `json:"status_reason,omitempty"`
	Progress        Progress            `json:"progress"`
	DurationSeconds float64             `json:"duration_seconds"`
	SegmentBudget   int                 `json:"segment_budget"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
	// Filled by Service.Detail only.
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

// Rendition is a rendition as its readers see it.
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

// Digest is an SMS digest as its readers see it.
type Digest struct {
	Language   string   `json:"language"`
	Body       string   `json:"body"`
	Encoding   string   `json:"encoding"`
	Segments   int      `json:"segments"`
	Characters int      `json:"characters"`
	Dropped    []string `json:"dropped"`
}

// Worksheet is a worksheet as its readers see it.
type Worksheet struct {
	URL       string `json:"url"`
	Bytes     int64  `json:"bytes"`
	Generated bool   `json:"generated"`
}

// Summary is l for a reader of lang: the status reason in lang when it was kept in lang, else in
// English; no renditions, digests, worksheet or counts.
func Summary(l relais.Lesson, lang string) Detail {
	return Detail{ID: l.ID, Title: l.Title, Subject: l.Subject, Grade: l.Grade, Language: l.Language, Region: l.Region,
		Audience: l.Reach(), TeacherID: l.TeacherID, Status: l.Status, StatusReason: l.Reason(lang),
		Progress: Progress{Step: l.Step, Percent: l.Progress}, DurationSeconds: float64(l.DurationMS) / 1000,
		SegmentBudget: l.SegmentBudget, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
}

// Detail returns lesson id, when u may see it, with its renditions, digests, worksheet and delivery
// counts per channel and status, for a reader of lang. File URLs are the API's.
func (s *Service) Detail(ctx context.Context, u relais.User, id int64, lang string) (Detail, error) {
	l, err := s.Visible(ctx, u, id)
	if err != nil {
		return Detail{}, err
	}
	out := Summary(l, lang)
	rs, err := s.store.Renditions(ctx, id)
	if err != nil {
		return out, err
	}
	for _, x := range rs {
		out.Renditions = append(out.Renditions, Rendition{Kind: x.Kind, URL: fmt.Sprintf("/api/v1/lessons/%d/renditions/%s", id, x.Kind),
			Container: x.Container, VideoCodec: x.VideoCodec, AudioCodec: x.AudioCodec, Width: x.Width, Height: x.Height,
			SampleRate: x.SampleRate, Channels: x.Channels, BitRate: x.BitRate, DurationSeconds: float64(x.DurationMS) / 1000,
			Bytes: x.Bytes, Loudness: Loudness{IntegratedLUFS: x.IntegratedLUFS, TruePeakDBTP: x.TruePeakDBTP, LRA: x.LRA}})
	}
	ds, err := s.store.Digests(ctx, id)
	if err != nil {
		return out, err
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
		return out, err
	}
	counts, err := s.store.DeliveryCounts(ctx, id)
	if err != nil {
		return out, err
	}
	out.Deliveries = CountsByChannel(counts)
	return out, nil
}

// CountsByChannel arranges delivery counts by channel and status; nil when there are none.
func CountsByChannel(counts []relais.DeliveryCount) map[relais.ChannelName]map[relais.DeliveryStatus]int64 {
	if len(counts) == 0 {
		return nil
	}
	out := map[relais.ChannelName]map[relais.DeliveryStatus]int64{}
	for _, c := range counts {
		if out[c.Channel] == nil {
			out[c.Channel] = map[relais.DeliveryStatus]int64{}
		}
		out[c.Channel][c.Status] = c.Count
	}
	return out
}

// RenditionFile returns the path of the kind rendition of a lesson u may see.
func (s *Service) RenditionFile(ctx context.Context, u relais.User, id int64, kind string) (string, error) {
	if _, err := s.Visible(ctx, u, id); err != nil {
		return "", err
	}
	rs, err := s.store.Renditions(ctx, id)
	if err != nil {
		return "", err
	}
	for _, x := range rs {
		if string(x.Kind) == kind {
			return x.Path, nil
		}
	}
	return "", relais.Errorf(relais.ENOTFOUND, "Lesson %d has no %q rendition (yet).", id, kind)
}

// WorksheetFile returns the path of the worksheet of a lesson u may see.
func (s *Service) WorksheetFile(ctx context.Context, u relais.User, id int64) (string, error) {
	if _, err := s.Visible(ctx, u, id); err != nil {
		return "", err
	}
	ws, err := s.store.Worksheet(ctx, id)
	if err != nil {
		return "", err
	}
	return ws.Path, nil
}

// KeyPoints picks the list items of a Markdown lesson, up to n: what the family page lists to remember.
func KeyPoints(md string, n int) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() && len(out) < n {
		line := strings.TrimSpace(sc.Text())
		for _, p := range []string{"- ", "* ", "+ "} {
			if rest, ok := strings.CutPrefix(line, p); ok {
				out = append(out, strings.TrimSpace(rest))
			}
		}
	}
	return out
}
