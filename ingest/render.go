package ingest

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/relais-edu/relais"
)

// Broadcast constants.
const (
	frameMS          = 40   // one 25 fps frame: the grid every track's length is cut to
	samplesPerFrame  = 1920 // 48 kHz samples in one 25 fps frame
	gopSize          = 12
	cardFont         = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	cardColor        = "0x14324b"
	radioBitRate     = 256000
	tvMP2BitRate     = 256000
	tvAACBitRate     = 192000
	lowbandBitRate   = 20000
	tsMaxDelayMicros = 700000
)

// tvFormat is the picture of the TV rendition.
type tvFormat struct {
	w, h       int
	fps        int // frames per second of the coded stream
	interlaced bool
	bitRate    int64
}

func tvFormatOf(name string) tvFormat {
	if name == TV720p50 {
		return tvFormat{w: 1280, h: 720, fps: 50, bitRate: 6_000_000}
	}
	return tvFormat{w: 1920, h: 1080, fps: 25, interlaced: true, bitRate: 8_000_000}
}

// output is one file being written: a muxer and its encoders.
type output struct {
	kind    relais.RenditionKind
	path    string
	fc      *astiav.FormatContext
	io      *astiav.IOContext
	streams []*encStream
	opened  bool
}

// encStream is one encoder feeding one stream of an output.
type encStream struct {
	out  *output
	cc   *astiav.CodecContext
	st   *astiav.Stream
	next int64 // pts of the next frame, in the encoder time base
	pkt  *astiav.Packet
}

func newOutput(kind relais.RenditionKind, format, path string) (*output, error) {
	fc, err := astiav.AllocOutputFormatContext(nil, format, path)
	if err != nil {
		return nil, fmt.Errorf("%s muxer: %w", format, err)
	}
	return &output{kind: kind, path: path, fc: fc}, nil
}

// addStream opens an encoder with the settings set by configure and adds its stream.
func (o *output) addStream(codecName string, configure func(*astiav.CodecContext), opts map[string]string) (*encStream, error) {
	codec := astiav.FindEncoderByName(codecName)
	if codec == nil {
		return nil, fmt.Errorf("encoder %s not available", codecName)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, errors.New("allocate encoder")
	}
	configure(cc)
	if o.fc.OutputFormat().Flags().Has(astiav.IOFormatFlagGlobalheader) {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range opts {
		d.Set(k, v, astiav.NewDictionaryFlags())
	}
	if err := cc.Open(codec, d); err != nil {
		cc.Free()
		return nil, fmt.Errorf("open %s: %w", codecName, err)
	}
	if e := d.Get("", nil, astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)); e != nil {
		cc.Free()
		return nil, fmt.Errorf("%s ignored option %s", codecName, e.Key())
	}
	st := o.fc.NewStream(nil)
	if st == nil {
		cc.Free()
		return nil, errors.New("new stream")
	}
	if err := st.CodecParameters().FromCodecContext(cc); err != nil {
		cc.Free()
		return nil, err
	}
	st.SetTimeBase(cc.TimeBase())
	es := &encStream{out: o, cc: cc, st: st, pkt: astiav.AllocPacket()}
	o.streams = append(o.streams, es)
	return es, nil
}

// open writes the header.
func (o *output) open(opts map[string]string, meta map[string]string) error {
	for k, v := range meta {
		setFormatMetadata(o.fc, k, v)
	}
	ioc, err := astiav.OpenIOContext(o.path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(o.path), err)
	}
	o.io = ioc
	o.fc.SetPb(ioc)
	d := astiav.NewDictionary()
	defer d.Free()
	for k, v := range opts {
		d.Set(k, v, astiav.NewDictionaryFlags())
	}
	if err := o.fc.WriteHeader(d); err != nil {
		return fmt.Errorf("write %s header: %w", filepath.Base(o.path), err)
	}
	o.opened = true
	return nil
}

// encode sends f (nil: flush) to the encoder, stamping it with the next pts, and writes its packets.
func (es *encStream) encode(f *astiav.Frame, duration int64) error {
	if f != nil {
		f.SetPts(es.next)
		f.SetPictureType(astiav.PictureTypeNone)
		es.next += duration
	}
	if err := es.cc.SendFrame(f); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("encode %s: %w", es.cc.CodecID().Name(), err)
	}
	for {
		if err := es.cc.ReceivePacket(es.pkt); err != nil {
			if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
				return nil
			}
			return fmt.Errorf("encode %s: %w", es.cc.CodecID().Name(), err)
		}
		es.pkt.SetStreamIndex(es.st.Index())
		es.pkt.RescaleTs(es.cc.TimeBase(), es.st.TimeBase())
		if err := es.out.fc.WriteInterleavedFrame(es.pkt); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Base(es.out.path), err)
		}
	}
}

// finish flushes the encoders and writes the trailer.
func (o *output) finish() error {
	for _, es := range o.streams {
		if err := es.encode(nil, 0); err != nil {
			return err
		}
	}
	if err := o.fc.WriteTrailer(); err != nil {
		return fmt.Errorf("write %s trailer: %w", filepath.Base(o.path), err)
	}
	return nil
}

func (o *output) free() {
	for _, es := range o.streams {
		es.cc.Free()
		es.pkt.Free()
	}
	if o.io != nil {
		o.io.Close()
	}
	o.fc.Free()
}

// renderFile writes the renditions of src into outDir, in this (child) process.
func renderFile(src, outDir string, opts Options, pr ProbeResult, progress func(string, int)) ([]relais.Rendition, error) {
	opts = opts.withDefaults()
	tv := tvFormatOf(opts.TVFormat)
	frames25 := int64(math.Round(float64(pr.DurationMS) / frameMS))
	if frames25 < 1 {
		return nil, errors.New("nothing to render")
	}
	totalSamples := frames25 * samplesPerFrame
	videoFrames := frames25 * int64(tv.fps) / 25

	fc, err := openInput(src)
	if err != nil {
		return nil, fmt.Errorf("open source: %w", err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("read source: %w", err)
	}
	var vs, as *astiav.Stream
	for _, s := range fc.Streams() {
		switch s.CodecParameters().MediaType() {
		case astiav.MediaTypeVideo:
			if vs == nil && !isAttachedPic(s) {
				vs = s
			}
		case astiav.MediaTypeAudio:
			if as == nil && s.CodecParameters().Channels() > 0 {
				as = s
			}
		}
	}
	if as == nil {
		return nil, errors.New("source has no audio")
	}
	adec, err := openDecoder(fc, as)
	if err != nil {
		return nil, fmt.Errorf("audio decoder: %w", err)
	}
	defer adec.Free()
	var vdec *astiav.CodecContext
	if vs != nil {
		if vdec, err = openDecoder(fc, vs); err != nil {
			return nil, fmt.Errorf("video decoder: %w", err)
		}
		defer vdec.Free()
	}

	// Both tracks start at the earlier stream's start: a late track is padded (first picture held,
	// silence) rather than shifted out of sync.
	origin := streamStart(as)
	if vs != nil {
		origin = math.Min(origin, streamStart(vs))
	}

	// Video: the conformed source, or a card with the title over an audio-only lesson.
	var vgraph *filterGraph
	if vs != nil {
		vgraph, err = newFilterGraph("buffer", bufferArgs(vdec, vs.TimeBase()), "[in]"+videoChain(pr, tv, origin)+"[out]", "buffersink", "out")
	} else {
		var chain string
		chain, err = cardChain(opts.Title, outDir, tv)
		if err == nil {
			vgraph, err = newFilterGraph("", nil, chain+"[out]", "buffersink", "out")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("video filters: %w", err)
	}
	defer vgraph.free()

	// Audio: one decode, conformed to 48 kHz stereo, normalised in two branches (stereo and its mono
	// downmix, each with its own measurement), cut to the frame, split to every encoder.
	audioSinks := []string{"tv", "radio", "lowband"}
	if opts.RadioWAV {
		audioSinks = append(audioSinks, "wav")
	}
	stereoNorm, monoNorm, err := normalisers(src, pr, origin, totalSamples, progress)
	if err != nil {
		return nil, fmt.Errorf("loudness: %w", err)
	}
	agraph, err := newFilterGraph("abuffer", abufferArgs(adec, as.TimeBase()), audioChain(stereoNorm, monoNorm, opts, totalSamples, origin), "abuffersink", audioSinks...)
	if err != nil {
		return nil, fmt.Errorf("audio filters: %w", err)
	}
	defer agraph.free()

	// Outputs.
	var outs []*output
	defer func() {
		for _, o := range outs {
			o.free()
		}
	}()
	mk := func(kind relais.RenditionKind, format, name string) (*output, error) {
		o, err := newOutput(kind, format, filepath.Join(outDir, name))
		if err == nil {
			outs = append(outs, o)
		}
		return o, err
	}
	tvOut, err := mk(relais.RenditionTV, "mpegts", "tv.ts")
	if err != nil {
		return nil, err
	}
	tvVideo, err := tvOut.addStream("libx264", func(cc *astiav.CodecContext) {
		cc.SetWidth(tv.w)
		cc.SetHeight(tv.h)
		cc.SetPixelFormat(astiav.PixelFormatYuv420P)
		cc.SetTimeBase(astiav.NewRational(1, tv.fps))
		cc.SetFramerate(astiav.NewRational(tv.fps, 1))
		cc.SetSampleAspectRatio(astiav.NewRational(1, 1))
		cc.SetGopSize(gopSize)
		cc.SetBitRate(tv.bitRate)
		cc.SetProfile(astiav.ProfileH264High)
		cc.SetThreadCount(0)
		if tv.interlaced {
			cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagInterlacedDct).Add(astiav.CodecContextFlagInterlacedMe))
		}
	}, x264Options(tv, opts.X264Preset))
	if err != nil {
		return nil, err
	}
	tvAudio, err := tvOut.addStream(opts.TVAudioCodec, func(cc *astiav.CodecContext) {
		stereoAudio(cc, opts.TVAudioCodec)
	}, nil)
	if err != nil {
		return nil, err
	}
	radioOut, err := mk(relais.RenditionRadio, "mp2", "radio.mp2")
	if err != nil {
		return nil, err
	}
	radioAudio, err := radioOut.addStream("mp2", func(cc *astiav.CodecContext) { stereoAudio(cc, "mp2") }, nil)
	if err != nil {
		return nil, err
	}
	lowOut, err := mk(relais.RenditionLowband, "opus", "lowband.opus")
	if err != nil {
		return nil, err
	}
	lowAudio, err := lowOut.addStream("libopus", func(cc *astiav.CodecContext) {
		cc.SetSampleFormat(astiav.SampleFormatFlt)
		cc.SetSampleRate(48000)
		cc.SetChannelLayout(astiav.ChannelLayoutMono)
		cc.SetChannels(1)
		cc.SetBitRate(lowbandBitRate)
		cc.SetTimeBase(astiav.NewRational(1, 48000))
	}, map[string]string{"application": "audio", "frame_duration": "20", "vbr": "constrained"})
	if err != nil {
		return nil, err
	}
	audioEnc := []*encStream{tvAudio, radioAudio, lowAudio}
	if opts.RadioWAV {
		wavOut, err := mk(relais.RenditionRadio, "wav", "radio.wav")
		if err != nil {
			return nil, err
		}
		wav, err := wavOut.addStream("pcm_s16le", func(cc *astiav.CodecContext) {
			cc.SetSampleFormat(astiav.SampleFormatS16)
			cc.SetSampleRate(48000)
			cc.SetChannelLayout(astiav.ChannelLayoutStereo)
			cc.SetChannels(2)
			cc.SetTimeBase(astiav.NewRational(1, 48000))
		}, nil)
		if err != nil {
			return nil, err
		}
		audioEnc = append(audioEnc, wav)
	}
	audioBits := int64(tvMP2BitRate)
	if opts.TVAudioCodec == "aac" {
		audioBits = tvAACBitRate
	}
	muxrate := tv.bitRate*108/100 + audioBits*110/100 + 300_000
	if err := tvOut.open(map[string]string{
		"muxrate":    strconv.FormatInt(muxrate, 10),
		"max_delay":  strconv.Itoa(tsMaxDelayMicros),
		"pcr_period": "20",
		"pat_period": "0.1",
		"sdt_period": "0.5",
	}, map[string]string{"service_name": opts.ServiceName, "service_provider": opts.ServiceProvider}); err != nil {
		return nil, err
	}
	for _, o := range outs[1:] {
		if err := o.open(nil, map[string]string{"title": opts.Title}); err != nil {
			return nil, err
		}
	}

	// The decode loop.
	var (
		videoSent   int64
		audioSent   int64 // samples encoded on the TV track
		last        *astiav.Frame
		videoEnded  bool
		audioEnded  = make([]bool, len(audioEnc))
		pct         = -1
		pkt         = astiav.AllocPacket()
		frame       = astiav.AllocFrame()
		sf          = astiav.AllocFrame()
		videoSink   = vgraph.sinks[0]
		frameTicks  = int64(1)
		totalFrames = videoFrames
	)
	defer pkt.Free()
	defer frame.Free()
	defer sf.Free()
	defer func() {
		if last != nil {
			last.Free()
		}
	}()
	useVideo := func(f *astiav.Frame) error {
		if videoSent >= totalFrames {
			return nil
		}
		if last == nil {
			last = astiav.AllocFrame()
		}
		last.Unref()
		if err := last.Ref(f); err != nil {
			return err
		}
		videoSent++
		return tvVideo.encode(f, frameTicks)
	}
	pullVideo := func() error {
		if videoEnded {
			return nil
		}
		ended, err := drain(videoSink, sf, useVideo)
		videoEnded = ended
		return err
	}
	// The card has no end: pull as many pictures as the audio has reached.
	pullCard := func(upTo int64) error {
		for !videoEnded && videoSent < upTo && videoSent < totalFrames {
			if err := videoSink.BuffersinkGetFrame(sf, astiav.NewBuffersinkFlags()); err != nil {
				return fmt.Errorf("card: %w", err)
			}
			err := useVideo(sf)
			sf.Unref()
			if err != nil {
				return err
			}
		}
		return nil
	}
	pullAudio := func() error {
		for i, sink := range agraph.sinks {
			if audioEnded[i] {
				continue
			}
			es := audioEnc[i]
			ended, err := drain(sink, sf, func(f *astiav.Frame) error {
				n := int64(f.NbSamples())
				if i == 0 {
					audioSent += n
				}
				return es.encode(f, n)
			})
			if err != nil {
				return err
			}
			audioEnded[i] = ended
		}
		if vs == nil {
			return pullCard(audioSent * int64(tv.fps) / 48000)
		}
		return nil
	}
	pushAudio := func(f *astiav.Frame) error {
		if err := agraph.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
			return fmt.Errorf("audio filters: %w", err)
		}
		return pullAudio()
	}
	pushVideo := func(f *astiav.Frame) error {
		if err := vgraph.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
			return fmt.Errorf("video filters: %w", err)
		}
		return pullVideo()
	}
	receive := func(dec *astiav.CodecContext, push func(*astiav.Frame) error) error {
		for {
			if err := dec.ReceiveFrame(frame); err != nil {
				if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
					return nil
				}
				return nil // a damaged frame: skip it, as the CLI does
			}
			err := push(frame)
			frame.Unref()
			if err != nil {
				return err
			}
		}
	}
	total := time.Duration(pr.DurationMS) * time.Millisecond
	progress("transcode", 0)
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			break // EOF, or the damage the probe tolerated
		}
		idx := pkt.StreamIndex()
		var err error
		switch {
		case idx == as.Index():
			if adec.SendPacket(pkt) == nil {
				err = receive(adec, pushAudio)
			}
		case vs != nil && idx == vs.Index():
			if vdec.SendPacket(pkt) == nil {
				err = receive(vdec, pushVideo)
			}
		}
		pkt.Unref()
		if err != nil {
			return nil, err
		}
		if total > 0 {
			done := time.Duration(audioSent) * time.Second / 48000
			if p := int(done * 100 / total); p > pct && p < 100 {
				pct = p
				progress("transcode", p)
			}
		}
	}
	if adec.SendPacket(nil) == nil {
		if err := receive(adec, pushAudio); err != nil {
			return nil, err
		}
	}
	if err := pushAudio(nil); err != nil {
		return nil, err
	}
	if vs != nil {
		if vdec.SendPacket(nil) == nil {
			if err := receive(vdec, pushVideo); err != nil {
				return nil, err
			}
		}
		if err := pushVideo(nil); err != nil {
			return nil, err
		}
		// Hold the last picture to the end of the sound; the filters already cut anything longer.
		for videoSent < totalFrames && last != nil {
			f := last.Clone()
			videoSent++
			err := tvVideo.encode(f, frameTicks)
			f.Free()
			if err != nil {
				return nil, err
			}
		}
	} else if err := pullCard(totalFrames); err != nil {
		return nil, err
	}
	if videoSent != totalFrames {
		return nil, fmt.Errorf("video has %d frames, want %d", videoSent, totalFrames)
	}
	if audioSent < totalSamples {
		return nil, fmt.Errorf("audio has %d samples, want %d", audioSent, totalSamples)
	}
	for _, o := range outs {
		if err := o.finish(); err != nil {
			return nil, err
		}
	}
	for _, o := range outs {
		if err := o.io.Close(); err != nil {
			return nil, fmt.Errorf("close %s: %w", filepath.Base(o.path), err)
		}
		o.io = nil
	}
	progress("transcode", 100)

	// Measure what was written.
	var rs []relais.Rendition
	var bad []string
	for i, o := range outs {
		progress("measure", i*100/len(outs))
		r, err := describe(o)
		if err != nil {
			return nil, err
		}
		if math.Abs(r.IntegratedLUFS-TargetLUFS) > ToleranceLU || r.TruePeakDBTP > MaxTruePeakDBTP {
			bad = append(bad, fmt.Sprintf("%s: %.1f LUFS, %.1f dBTP (want %.1f +-%.1f LUFS, <= %.1f dBTP)",
				filepath.Base(o.path), r.IntegratedLUFS, r.TruePeakDBTP, TargetLUFS, ToleranceLU, MaxTruePeakDBTP))
		}
		rs = append(rs, r)
	}
	progress("measure", 100)
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrOutOfTolerance, strings.Join(bad, "; "))
	}
	return rs, nil
}

// streamStart is where s starts on the file's clock, in seconds.
func streamStart(s *astiav.Stream) float64 {
	if st := s.StartTime(); st != astiav.NoPtsValue {
		return float64(st) * s.TimeBase().Float64()
	}
	return 0
}

// videoChain conforms decoded video: rotate upright, square the pixels, fit inside the frame with
// pillar- or letterbox bars (never stretch), BT.709, then the output rate and field structure.
func videoChain(pr ProbeResult, tv tvFormat, origin float64) string {
	var b strings.Builder
	// Interlaced sources (camera 1080i/576i) are deinterlaced to their field rate before scaling;
	// progressive pictures pass untouched.
	fmt.Fprintf(&b, "bwdif=mode=send_field:deint=interlaced,setpts=PTS-%.6f/TB,", origin)
	switch pr.Rotation {
	case 90:
		b.WriteString("transpose=clock,")
	case 180:
		b.WriteString("hflip,vflip,")
	case 270:
		b.WriteString("transpose=cclock,")
	}
	fmt.Fprintf(&b, "scale=w='trunc(iw*sar/2)*2':h=ih,setsar=1,")
	// An untagged source is taken as BT.709 from 720 lines up (HD practice), BT.601 below (swscale's
	// default); tagged sources are converted from what they say.
	in := "auto"
	if pr.HasVideo && pr.Height >= 720 && pr.Width >= 720 && pr.ColorSpace == "" {
		in = "bt709"
	}
	fmt.Fprintf(&b, "scale=w=%d:h=%d:force_original_aspect_ratio=decrease:force_divisible_by=2:in_color_matrix=%s:out_color_matrix=bt709:out_range=tv:flags=bicubic,", tv.w, tv.h, in)
	fmt.Fprintf(&b, "pad=w=%d:h=%d:x=(ow-iw)/2:y=(oh-ih)/2:color=black,setsar=1,", tv.w, tv.h)
	b.WriteString(fieldChain(tv))
	return b.String()
}

// fieldChain makes 50 pictures a second, then, for 1080i25, weaves them into top-field-first frames.
func fieldChain(tv tvFormat) string {
	s := "fps=fps=50:start_time=0,format=yuv420p"
	if tv.interlaced {
		s += ",tinterlace=mode=interleave_top:flags=cvlpf"
	}
	return s
}

// cardChain draws the lesson title on a plain background for an audio-only lesson.
func cardChain(title, dir string, tv tvFormat) (string, error) {
	tf := filepath.Join(dir, ".card-title.txt")
	text := wrap(title, 32)
	if text == "" {
		text = "Relais"
	}
	// Six lines at most fit the card.
	if lines := strings.Split(text, "\n"); len(lines) > 6 {
		text = strings.Join(lines[:6], "\n") + "…"
	}
	if err := os.WriteFile(tf, []byte(text), 0o600); err != nil {
		return "", err
	}
	return fmt.Sprintf("color=c=%s:s=%dx%d:r=50,drawtext=fontfile=%s:textfile=%s:expansion=none:fontcolor=white:fontsize=%d:line_spacing=%d:x=(w-text_w)/2:y=(h-text_h)/2,setsar=1,%s",
		cardColor, tv.w, tv.h, cardFont, tf, tv.h/14, tv.h/60, fieldChain(tv)), nil
}

// wrap breaks s into lines of at most n runes, at spaces.
func wrap(s string, n int) string {
	var lines []string
	var line string
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// audioHead conforms decoded sound: on the lesson's clock (origin), gaps in the source's timeline and a
// late start filled with silence (as the CLI's -async), 48 kHz stereo.
func audioHead(origin float64) string {
	return fmt.Sprintf("asetpts=PTS-%.6f/TB,aresample=48000:async=1:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo", origin)
}

// audioBranch is what one branch (stereo, or its mono downmix) does after audioHead: normalise with norm,
// back to 48 kHz, cut or padded with silence to exactly totalSamples.
func audioBranch(mono bool, norm string, totalSamples int64) string {
	cut := fmt.Sprintf("apad=whole_len=%d,atrim=end_sample=%d", totalSamples, totalSamples)
	if mono {
		return fmt.Sprintf("%s,%s,aresample=48000,aformat=sample_fmts=flt:channel_layouts=mono,%s", monoDownmix, norm, cut)
	}
	return fmt.Sprintf("%s,aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,%s", norm, cut)
}

// audioChain is the audio filter graph: one decode, normalised in a stereo and a mono branch, split to
// every encoder in the frame sizes it takes.
func audioChain(stereoNorm, monoNorm string, opts Options, totalSamples int64, origin float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[in]%s,asplit=2[st][mo];", audioHead(origin))
	n := 3
	if opts.RadioWAV {
		n = 4
	}
	fmt.Fprintf(&b, "[st]%s,asplit=%d[a0][a1]", audioBranch(false, stereoNorm, totalSamples), n-1)
	if opts.RadioWAV {
		b.WriteString("[a2]")
	}
	b.WriteString(";")
	if opts.TVAudioCodec == "aac" {
		b.WriteString("[a0]aformat=sample_fmts=fltp,asetnsamples=n=1024[tv];")
	} else {
		b.WriteString("[a0]aformat=sample_fmts=s16,asetnsamples=n=1152[tv];")
	}
	b.WriteString("[a1]aformat=sample_fmts=s16,asetnsamples=n=1152[radio];")
	fmt.Fprintf(&b, "[mo]%s,asetnsamples=n=960[lowband]", audioBranch(true, monoNorm, totalSamples))
	if opts.RadioWAV {
		b.WriteString(";[a2]aformat=sample_fmts=s16[wav]")
	}
	return b.String()
}

// loudnorm is the second pass of FFmpeg's loudnorm with the probe's measurement. Linear mode (one gain
// for the whole lesson) applies when the gain keeps the true peak under the target; otherwise loudnorm
// falls back to its dynamic mode.
func loudnorm(m Loudness) string {
	clamp := func(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
	i := clamp(m.IntegratedLUFS, -99, -0.01)
	tp := clamp(m.TruePeakDBTP, -99, 99)
	// loudnorm takes an LRA of 0 as "not measured"; a steady tone really measures 0.
	lra := clamp(m.LRA, 0.01, 99)
	return fmt.Sprintf("loudnorm=I=%.1f:TP=%.1f:LRA=20:measured_I=%.2f:measured_TP=%.2f:measured_LRA=%.2f:measured_thresh=%.2f:offset=0:linear=true:print_format=none",
		TargetLUFS, loudnormTP, i, tp, lra, clamp(i-10, -99, 0))
}

// x264Options are libx264's private settings for a CBR broadcast stream.
func x264Options(tv tvFormat, preset string) map[string]string {
	br := strconv.FormatInt(tv.bitRate, 10)
	o := map[string]string{
		"preset":          preset,
		"x264-params":     "nal-hrd=cbr:force-cfr=1:scenecut=0",
		"maxrate":         br,
		"minrate":         br,
		"bufsize":         strconv.FormatInt(tv.bitRate/2, 10),
		"color_primaries": "bt709",
		"color_trc":       "bt709",
		"colorspace":      "bt709",
		"color_range":     "tv",
	}
	if tv.interlaced {
		o["field_order"] = "tt"
	}
	return o
}

// stereoAudio configures a 48 kHz stereo encoder for the TV or radio track.
func stereoAudio(cc *astiav.CodecContext, codec string) {
	cc.SetSampleRate(48000)
	cc.SetChannelLayout(astiav.ChannelLayoutStereo)
	cc.SetChannels(2)
	cc.SetTimeBase(astiav.NewRational(1, 48000))
	if codec == "aac" {
		cc.SetSampleFormat(astiav.SampleFormatFltp)
		cc.SetBitRate(tvAACBitRate)
		return
	}
	cc.SetSampleFormat(astiav.SampleFormatS16)
	cc.SetBitRate(radioBitRate)
}
