package ingest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/relais-edu/relais"
)

// describe reads back a written output: its streams, length, size and loudness.
func describe(o *output) (relais.Rendition, error) {
	r := relais.Rendition{Kind: o.kind, Path: o.path, Container: o.fc.OutputFormat().Name(), CreatedAt: time.Now().UTC()}
	fi, err := os.Stat(o.path)
	if err != nil {
		return r, err
	}
	r.Bytes = fi.Size()
	fc, err := openInput(o.path)
	if err != nil {
		return r, fmt.Errorf("read back %s: %w", filepath.Base(o.path), err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return r, fmt.Errorf("read back %s: %w", filepath.Base(o.path), err)
	}
	for _, s := range fc.Streams() {
		cp := s.CodecParameters()
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			r.VideoCodec, r.Width, r.Height = cp.CodecID().Name(), cp.Width(), cp.Height()
		case astiav.MediaTypeAudio:
			r.AudioCodec, r.SampleRate, r.Channels = cp.CodecID().Name(), cp.SampleRate(), cp.Channels()
		}
	}
	l, samples, rate, err := measureFile(o.path)
	if err != nil {
		return r, fmt.Errorf("measure %s: %w", filepath.Base(o.path), err)
	}
	if rate <= 0 {
		return r, errors.New("measure: no sample rate")
	}
	r.DurationMS = samples * 1000 / int64(rate)
	if strings.HasSuffix(o.path, ".ts") {
		// The TV file's length is its picture's.
		if d, err := videoDuration(o.path); err == nil && d > 0 {
			r.DurationMS = d.Milliseconds()
		}
	}
	if r.DurationMS > 0 {
		r.BitRate = r.Bytes * 8 * 1000 / r.DurationMS
	}
	r.IntegratedLUFS, r.TruePeakDBTP, r.LRA = l.IntegratedLUFS, l.TruePeakDBTP, l.LRA
	return r, nil
}

// videoDuration is how far the video packets of path reach.
func videoDuration(path string) (time.Duration, error) {
	fc, err := openInput(path)
	if err != nil {
		return 0, err
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return 0, err
	}
	vi := -1
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			vi = s.Index()
			break
		}
	}
	if vi < 0 {
		return 0, errors.New("no video")
	}
	s := fc.Streams()[vi]
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	var first, end int64 = astiav.NoPtsValue, 0
	for fc.ReadFrame(pkt) == nil {
		if pkt.StreamIndex() == vi && pkt.Pts() != astiav.NoPtsValue {
			if first == astiav.NoPtsValue || pkt.Pts() < first {
				first = pkt.Pts()
			}
			if e := pkt.Pts() + pkt.Duration(); e > end {
				end = e
			}
		}
		pkt.Unref()
	}
	if first == astiav.NoPtsValue {
		return 0, errors.New("no video packets")
	}
	us := astiav.RescaleQ(end-first, s.TimeBase(), astiav.NewRational(1, 1000000))
	return time.Duration(us) * time.Microsecond, nil
}
