package ingest

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/relais-edu/relais"
)

// A chunked render splits a long lesson's picture into parts that separate processes (separate workers)
// encode at once: each part starts on a closed-GOP boundary of the whole (a multiple of gopSize
// pictures), so the joined picture has the GOPs of a whole-file render. The sound is rendered whole, in
// one pass and with one gain (renderSound), and joinTV muxes it with the parts into one transport
// stream: one muxer, so continuity counters and PCR run on; the parts' timestamps are offset to their
// place on the lesson's clock.

// soundTrackFile is the TV's sound track written alone by renderSound.
const soundTrackFile = "tv-audio.ts"

// Part is one piece of the picture of a chunked render: Frames pictures of the TV track from picture
// First (counted in the TV format's pictures, from 0).
type Part struct {
	Index  int   `json:"index"`
	First  int64 `json:"first"`
	Frames int64 `json:"frames"`
}

// PlanParts cuts the picture of a probed lesson into parts of about chunk each (a whole number of
// GOPs). It returns nil when the lesson renders in one process: no longer than chunk (or chunk <= 0),
// audio-only (the card is cheap to draw), or a picture that stops more than a second before the sound
// (the held last picture would fall into a part with nothing to decode).
func PlanParts(pr ProbeResult, opts Options, chunk time.Duration) []Part {
	if chunk <= 0 || !pr.HasVideo || time.Duration(pr.DurationMS)*time.Millisecond <= chunk {
		return nil
	}
	var videoMS int64
	for _, s := range pr.Streams {
		if s.Kind == "video" {
			videoMS = max(videoMS, s.DurationMS)
		}
	}
	if videoMS < pr.DurationMS-1000 {
		return nil
	}
	tv := tvFormatOf(opts.withDefaults().TVFormat)
	total := int64(math.Round(float64(pr.DurationMS)/frameMS)) * int64(tv.fps) / 25
	per := max(gopSize, int64(chunk.Seconds()*float64(tv.fps))/gopSize*gopSize)
	var parts []Part
	for first := int64(0); first < total; {
		n := min(per, total-first)
		if rest := total - first - n; rest > 0 && rest < per/4 {
			n += rest // no tiny last part: it costs a process start for a few pictures
		}
		parts = append(parts, Part{Index: len(parts), First: first, Frames: n})
		first += n
	}
	if len(parts) < 2 {
		return nil
	}
	return parts
}

// renderPicture encodes part p of src's TV picture into out (an MPEG-TS of the picture alone).
func renderPicture(src, out string, opts Options, pr ProbeResult, p Part, progress func(string, int)) error {
	r := newRender(opts, pr, false, progress)
	defer r.free()
	if err := r.openSource(src); err != nil {
		return err
	}
	if r.vs == nil {
		return errors.New("a part of the picture of a lesson without one")
	}
	fps := float64(r.tv.fps)
	start := float64(p.First) / fps
	// From the keyframe two seconds ahead (the deinterlacer and the 50 Hz grid want what comes before).
	if at := r.origin + start - 2; at > streamStart(r.vs) {
		ts := int64(at / r.vs.TimeBase().Float64())
		if err := r.fc.SeekFrame(r.vs.Index(), ts, astiav.NewSeekFlags(astiav.SeekFlagBackward)); err != nil {
			return fmt.Errorf("seek to %.2f s: %w", at, err)
		}
	}
	var err error
	r.vgraph, err = newFilterGraph("buffer", bufferArgs(r.vdec, r.vs.TimeBase()), "[in]"+videoChainFrom(r.pr, r.tv, r.origin, start)+"[out]", "buffersink", "out")
	if err != nil {
		return fmt.Errorf("video filters: %w", err)
	}
	o, err := r.addOutput(relais.RenditionTV, "mpegts", out)
	if err != nil {
		return err
	}
	if r.tvVideo, err = o.addStream("libx264", h264Settings(r.tv), x264Options(r.tv, r.opts.X264Preset)); err != nil {
		return err
	}
	if err := o.open(nil, nil); err != nil {
		return err
	}
	r.pkt, r.frame, r.sf = astiav.AllocPacket(), astiav.AllocFrame(), astiav.AllocFrame()
	tb := r.vgraph.sinks[0].Inputs()[0].TimeBase()
	r.totalFrames = p.Frames
	// Pictures of the filters' output before the part are dropped; those after it end the work.
	use := func(f *astiav.Frame) error {
		if n := int64(math.Round(float64(f.Pts()) * tb.Float64() * fps)); n < p.First {
			return nil
		}
		return r.useVideo(f)
	}
	progress("transcode", 0)
	pct := 0
	for r.videoSent < p.Frames && r.fc.ReadFrame(r.pkt) == nil {
		if r.pkt.StreamIndex() == r.vs.Index() && r.vdec.SendPacket(r.pkt) == nil {
			err = r.receive(r.vdec, func(f *astiav.Frame) error {
				if err := r.vgraph.push(f); err != nil {
					return fmt.Errorf("video filters: %w", err)
				}
				_, err := drain(r.vgraph.sinks[0], r.sf, use)
				return err
			})
		}
		r.pkt.Unref()
		if err != nil {
			return err
		}
		if q := int(r.videoSent * 100 / p.Frames); q/10 > pct/10 && q < 100 {
			pct = q
			progress("transcode", q)
		}
	}
	if r.videoSent < p.Frames {
		// The source ended: flush, then hold the last picture to the part's end as renderFile does.
		if r.vdec.SendPacket(nil) == nil {
			if err := r.receive(r.vdec, func(f *astiav.Frame) error { return r.vgraph.push(f) }); err != nil {
				return err
			}
		}
		if err := r.vgraph.push(nil); err != nil {
			return fmt.Errorf("video filters: %w", err)
		}
		if _, err := drain(r.vgraph.sinks[0], r.sf, use); err != nil {
			return err
		}
		if err := r.holdLast(); err != nil {
			return err
		}
	}
	if r.videoSent != p.Frames {
		return fmt.Errorf("part %d has %d pictures, want %d", p.Index, r.videoSent, p.Frames)
	}
	if err := r.closeOutputs(); err != nil {
		return err
	}
	progress("transcode", 100)
	return nil
}

// tsClock is the time base of MPEG-TS timestamps.
var tsClock = astiav.NewRational(1, 90000)

// joinTV muxes the TV sound track (renderSound's tv-audio.ts) and the picture's parts, in order, into
// one transport stream at out, then reads it back and checks its loudness as renderFile does.
func joinTV(sound string, parts []string, plan []Part, out string, opts Options) (relais.Rendition, error) {
	opts = opts.withDefaults()
	tv := tvFormatOf(opts.TVFormat)
	if len(parts) != len(plan) || len(parts) == 0 {
		return relais.Rendition{}, fmt.Errorf("join: %d parts for a plan of %d", len(parts), len(plan))
	}
	o, err := newOutput(relais.RenditionTV, "mpegts", out)
	if err != nil {
		return relais.Rendition{}, err
	}
	defer o.free()
	a, err := openTrack(sound, astiav.MediaTypeAudio)
	if err != nil {
		return relais.Rendition{}, err
	}
	defer a.close()
	v, err := openTrack(parts[0], astiav.MediaTypeVideo)
	if err != nil {
		return relais.Rendition{}, err
	}
	defer func() { v.close() }()
	vs, err := copyStream(o, v.st)
	if err != nil {
		return relais.Rendition{}, err
	}
	as, err := copyStream(o, a.st)
	if err != nil {
		return relais.Rendition{}, err
	}
	if lang := iso639(opts.Language); lang != "" {
		setStreamMetadata(as, "language", lang)
	}
	if err := o.open(tsOptions(tv, opts.TVAudioCodec), map[string]string{"service_name": opts.ServiceName, "service_provider": opts.ServiceProvider}); err != nil {
		return relais.Rendition{}, err
	}

	// Each track's packets go out in decoding order, the earlier of the two first: the sound shifted so
	// that it starts at 0, each part so that its first picture (the IDR that opens it) is at its place.
	apkt, vpkt := astiav.AllocPacket(), astiav.AllocPacket()
	defer apkt.Free()
	defer vpkt.Free()
	aok, err := a.next(apkt)
	if err != nil {
		return relais.Rendition{}, err
	}
	// A whole render's sound starts where its encoder puts it: its padding ahead of the picture.
	pad, err := soundPadding(opts.TVAudioCodec)
	if err != nil {
		return relais.Rendition{}, err
	}
	aShift := astiav.RescaleQ(-pad, astiav.NewRational(1, 48000), tsClock) - apkt.Pts()
	i := 0
	vok, err := v.next(vpkt)
	if err != nil {
		return relais.Rendition{}, err
	}
	vShift := int64(0)
	if vok {
		vShift = plan[0].First*90000/int64(tv.fps) - vpkt.Pts()
	}
	lastDTS := int64(math.MinInt64)
	for aok || vok || i+1 < len(parts) {
		if !vok && i+1 < len(parts) {
			v.close()
			i++
			if v, err = openTrack(parts[i], astiav.MediaTypeVideo); err != nil {
				return relais.Rendition{}, err
			}
			if vok, err = v.next(vpkt); err != nil {
				return relais.Rendition{}, err
			}
			if !vok {
				return relais.Rendition{}, fmt.Errorf("join: part %d is empty", i)
			}
			vShift = plan[i].First*90000/int64(tv.fps) - vpkt.Pts()
			continue
		}
		if vok && (!aok || vpkt.Dts()+vShift <= apkt.Dts()+aShift) {
			vpkt.SetPts(vpkt.Pts() + vShift)
			vpkt.SetDts(vpkt.Dts() + vShift)
			if vpkt.Dts() <= lastDTS {
				return relais.Rendition{}, fmt.Errorf("join: part %d overlaps the one before (dts %d after %d)", i, vpkt.Dts(), lastDTS)
			}
			lastDTS = vpkt.Dts()
			vpkt.SetStreamIndex(vs.Index())
			if err := o.fc.WriteInterleavedFrame(vpkt); err != nil {
				return relais.Rendition{}, fmt.Errorf("join: write picture: %w", err)
			}
			if vok, err = v.next(vpkt); err != nil {
				return relais.Rendition{}, err
			}
			continue
		}
		apkt.SetPts(apkt.Pts() + aShift)
		apkt.SetDts(apkt.Dts() + aShift)
		apkt.SetStreamIndex(as.Index())
		if err := o.fc.WriteInterleavedFrame(apkt); err != nil {
			return relais.Rendition{}, fmt.Errorf("join: write sound: %w", err)
		}
		if aok, err = a.next(apkt); err != nil {
			return relais.Rendition{}, err
		}
	}
	if err := o.fc.WriteTrailer(); err != nil {
		return relais.Rendition{}, fmt.Errorf("join: write trailer: %w", err)
	}
	if err := o.io.Close(); err != nil {
		return relais.Rendition{}, fmt.Errorf("close %s: %w", filepath.Base(out), err)
	}
	o.io = nil
	rd, err := describe(o)
	if err != nil {
		return rd, err
	}
	if math.Abs(rd.IntegratedLUFS-TargetLUFS) > ToleranceLU || rd.TruePeakDBTP > MaxTruePeakDBTP {
		return rd, fmt.Errorf("%w: %s: %.1f LUFS, %.1f dBTP (want %.1f +-%.1f LUFS, <= %.1f dBTP)", ErrOutOfTolerance,
			filepath.Base(out), rd.IntegratedLUFS, rd.TruePeakDBTP, TargetLUFS, ToleranceLU, MaxTruePeakDBTP)
	}
	return rd, nil
}

// soundPadding is the padding, in 48 kHz samples, the TV sound encoder of codec puts ahead of the sound.
func soundPadding(codec string) (int64, error) {
	c := astiav.FindEncoderByName(codec)
	if c == nil {
		return 0, fmt.Errorf("encoder %s not available", codec)
	}
	cc := astiav.AllocCodecContext(c)
	if cc == nil {
		return 0, errors.New("allocate encoder")
	}
	defer cc.Free()
	stereoAudio(cc, codec)
	if err := cc.Open(c, nil); err != nil {
		return 0, fmt.Errorf("open %s: %w", codec, err)
	}
	return initialPadding(cc), nil
}

// track reads the packets of one stream of a file, their timestamps in MPEG-TS units.
type track struct {
	fc *astiav.FormatContext
	st *astiav.Stream
}

func openTrack(path string, kind astiav.MediaType) (*track, error) {
	fc, err := openInput(path)
	if err != nil {
		return nil, fmt.Errorf("join: open %s: %w", filepath.Base(path), err)
	}
	if err := fc.FindStreamInfo(nil); err != nil {
		fc.CloseInput()
		return nil, fmt.Errorf("join: read %s: %w", filepath.Base(path), err)
	}
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == kind {
			return &track{fc: fc, st: s}, nil
		}
	}
	fc.CloseInput()
	return nil, fmt.Errorf("join: %s has no %s stream", filepath.Base(path), kind)
}

// next reads the track's next packet into pkt; false at the end.
func (t *track) next(pkt *astiav.Packet) (bool, error) {
	for {
		pkt.Unref()
		if err := t.fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return false, nil
			}
			return false, fmt.Errorf("join: read: %w", err)
		}
		if pkt.StreamIndex() == t.st.Index() {
			pkt.RescaleTs(t.st.TimeBase(), tsClock)
			return true, nil
		}
	}
}

func (t *track) close() {
	if t != nil && t.fc != nil {
		t.fc.CloseInput()
		t.fc = nil
	}
}

// copyStream adds to o a stream carrying in's coded packets unchanged.
func copyStream(o *output, in *astiav.Stream) (*astiav.Stream, error) {
	st := o.fc.NewStream(nil)
	if st == nil {
		return nil, errors.New("join: new stream")
	}
	if err := in.CodecParameters().Copy(st.CodecParameters()); err != nil {
		return nil, fmt.Errorf("join: %w", err)
	}
	st.CodecParameters().SetCodecTag(0)
	st.SetTimeBase(tsClock)
	return st, nil
}
