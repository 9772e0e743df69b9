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
	return newRender(opts, pr, false, progress).run(src, outDir)
}

// renderSound writes the sound of every rendition of src into outDir, the whole lesson in one pass: the
// TV's sound track alone in tv-audio.ts (for joinTV), radio and low band as renderFile does.
func renderSound(src, outDir string, opts Options, pr ProbeResult, progress func(string, int)) ([]relais.Rendition, error) {
	return newRender(opts, pr, true, progress).run(src, outDir)
}

func newRender(opts Options, pr ProbeResult, noPicture bool, progress func(string, int)) *render {
	opts = opts.withDefaults()
	return &render{opts: opts, pr: pr, tv: tvFormatOf(opts.TVFormat), noPicture: noPicture, progress: progress}
}

func (r *render) run(src, outDir string) ([]relais.Rendition, error) {
	pr := r.pr
	frames25 := int64(math.Round(float64(pr.DurationMS) / frameMS))
	if frames25 < 1 {
		return nil, errors.New("nothing to render")
	}
	r.totalSamples = frames25 * samplesPerFrame
	r.totalFrames = frames25 * int64(r.tv.fps) / 25
	defer r.free()

	if err := r.openSource(src); err != nil {
		return nil, err
	}
	if !r.noPicture {
		if err := r.conformVideo(outDir); err != nil {
			return nil, err
		}
	}
	if err := r.conformAudio(src); err != nil {
		return nil, err
	}
	if err := r.openOutputs(outDir); err != nil {
		return nil, err
	}
	if err := r.transcode(); err != nil {
		return nil, err
	}
	return r.measure()
}

// render is the state of one renderFile: the source and its decoders, the filters, the outputs and
// their encoders, and what the decode loop has done so far. free releases all of it.
type render struct {
	opts         Options
	pr           ProbeResult
	tv           tvFormat
	progress     func(string, int)
	totalSamples int64 // 48 kHz samples of every sound track
	totalFrames  int64 // pictures of the TV track
	noPicture    bool  // the sound only (renderSound)

	// The source: its picture (nil for an audio-only lesson) and sound, and the clock both start on.
	fc         *astiav.FormatContext
	vs, as     *astiav.Stream
	vdec, adec *astiav.CodecContext
	origin     float64

	vgraph, agraph *filterGraph // agraph's sinks feed audioEnc, in order

	outs     []*output // the TV stream first
	tvVideo  *encStream
	audioEnc []*encStream // TV, radio, lowband and the WAV master when asked

	// The decode loop.
	pkt        *astiav.Packet
	frame, sf  *astiav.Frame // decoded; taken from a sink
	last       *astiav.Frame // the last picture encoded, held to the end of the sound
	videoSent  int64
	audioSent  int64 // samples encoded on the TV track
	videoEnded bool
	audioEnded []bool // per sink of agraph
}

// free releases everything the render holds, in the reverse order it was taken.
func (r *render) free() {
	for _, f := range []*astiav.Frame{r.last, r.sf, r.frame} {
		if f != nil {
			f.Free()
		}
	}
	if r.pkt != nil {
		r.pkt.Free()
	}
	for _, o := range r.outs {
		o.free()
	}
	r.agraph.free()
	r.vgraph.free()
	if r.vdec != nil {
		r.vdec.Free()
	}
	if r.adec != nil {
		r.adec.Free()
	}
	if r.fc != nil {
		r.fc.CloseInput()
	}
}

// openSource opens src, picks its picture and sound streams, opens their decoders and sets the lesson's
// clock.
func (r *render) openSource(src string) error {
	fc, err := openInput(src)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	r.fc = fc
	if err := fc.FindStreamInfo(nil); err != nil {
		return fmt.Errorf("read source: %w", err)
	}
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo && !isAttachedPic(s) {
			r.vs = s
			break
		}
	}
	if r.as = firstAudio(fc); r.as == nil {
		return errors.New("source has no audio")
	}
	if r.adec, err = openDecoder(fc, r.as); err != nil {
		return fmt.Errorf("audio decoder: %w", err)
	}
	// Both tracks start at the earlier stream's start: a late track is padded (first picture held,
	// silence) rather than shifted out of sync.
	r.origin = streamStart(r.as)
	if r.vs != nil {
		r.origin = math.Min(r.origin, streamStart(r.vs))
	}
	if r.noPicture {
		r.vs = nil // on the same clock as the picture rendered elsewhere, but not decoded
		return nil
	}
	if r.vs != nil {
		if r.vdec, err = openDecoder(fc, r.vs); err != nil {
			return fmt.Errorf("video decoder: %w", err)
		}
	}
	return nil
}

// conformVideo builds the video filters: the conformed source, or a card with the title over an
// audio-only lesson.
func (r *render) conformVideo(outDir string) error {
	var err error
	if r.vs != nil {
		r.vgraph, err = newFilterGraph("buffer", bufferArgs(r.vdec, r.vs.TimeBase()), "[in]"+videoChain(r.pr, r.tv, r.origin)+"[out]", "buffersink", "out")
	} else {
		var chain string
		chain, err = cardChain(r.opts.Title, outDir, r.tv)
		if err == nil {
			r.vgraph, err = newFilterGraph("", nil, chain+"[out]", "buffersink", "out")
		}
	}
	if err != nil {
		return fmt.Errorf("video filters: %w", err)
	}
	return nil
}

// conformAudio builds the audio filters: one decode, conformed to 48 kHz stereo, normalised in two
// branches (stereo and its mono downmix, each with its own measurement), cut to the frame, split to
// every encoder.
func (r *render) conformAudio(src string) error {
	sinks := []string{"tv", "radio", "lowband"}
	if r.opts.RadioWAV {
		sinks = append(sinks, "wav")
	}
	stereoNorm, monoNorm, err := normalisers(src, r.pr, r.origin, r.totalSamples, r.progress)
	if err != nil {
		return fmt.Errorf("loudness: %w", err)
	}
	chain := audioChain(stereoNorm, monoNorm, r.opts, r.totalSamples, r.origin)
	if r.agraph, err = newFilterGraph("abuffer", abufferArgs(r.adec, r.as.TimeBase()), chain, "abuffersink", sinks...); err != nil {
		return fmt.Errorf("audio filters: %w", err)
	}
	return nil
}

// openOutputs creates every file with its encoders, in the order of the audio sinks, and writes their
// headers.
func (r *render) openOutputs(outDir string) error {
	name := "tv.ts"
	if r.noPicture {
		name = soundTrackFile
	}
	tvOut, err := r.addOutput(relais.RenditionTV, "mpegts", filepath.Join(outDir, name))
	if err != nil {
		return err
	}
	if !r.noPicture {
		if r.tvVideo, err = tvOut.addStream("libx264", h264Settings(r.tv), x264Options(r.tv, r.opts.X264Preset)); err != nil {
			return err
		}
	}
	codec := r.opts.TVAudioCodec
	if err := r.addAudio(tvOut, codec, func(cc *astiav.CodecContext) { stereoAudio(cc, codec) }, nil); err != nil {
		return err
	}
	if lang := iso639(r.opts.Language); lang != "" {
		// The muxer writes it as the ISO 639 language descriptor of the sound in the PMT.
		setStreamMetadata(r.audioEnc[len(r.audioEnc)-1].st, "language", lang)
	}
	type audioFile struct {
		kind                relais.RenditionKind
		format, name, codec string
		configure           func(*astiav.CodecContext)
		opts                map[string]string
	}
	files := []audioFile{
		{relais.RenditionRadio, "mp2", "radio.mp2", "mp2", func(cc *astiav.CodecContext) { stereoAudio(cc, "mp2") }, nil},
		{relais.RenditionLowband, "opus", "lowband.opus", "libopus", opusAudio, map[string]string{"application": "audio", "frame_duration": "20", "vbr": "constrained"}},
	}
	if r.opts.RadioWAV {
		files = append(files, audioFile{relais.RenditionRadio, "wav", "radio.wav", "pcm_s16le", wavAudio, nil})
	}
	for _, f := range files {
		o, err := r.addOutput(f.kind, f.format, filepath.Join(outDir, f.name))
		if err != nil {
			return err
		}
		if err := r.addAudio(o, f.codec, f.configure, f.opts); err != nil {
			return err
		}
	}
	if err := tvOut.open(tsOptions(r.tv, codec), map[string]string{"service_name": r.opts.ServiceName, "service_provider": r.opts.ServiceProvider}); err != nil {
		return err
	}
	for _, o := range r.outs[1:] {
		if err := o.open(nil, map[string]string{"title": r.opts.Title}); err != nil {
			return err
		}
	}
	return nil
}

// addOutput creates a file's muxer; free frees it.
func (r *render) addOutput(kind relais.RenditionKind, format, path string) (*output, error) {
	o, err := newOutput(kind, format, path)
	if err != nil {
		return nil, err
	}
	r.outs = append(r.outs, o)
	return o, nil
}

// addAudio adds a sound encoder to o, fed by the next sink of the audio filters.
func (r *render) addAudio(o *output, codec string, configure func(*astiav.CodecContext), opts map[string]string) error {
	es, err := o.addStream(codec, configure, opts)
	if err != nil {
		return err
	}
	r.audioEnc = append(r.audioEnc, es)
	return nil
}

// transcode decodes the source through the filters into the encoders, brings every track to its
// length and closes the files.
func (r *render) transcode() error {
	r.pkt, r.frame, r.sf = astiav.AllocPacket(), astiav.AllocFrame(), astiav.AllocFrame()
	r.audioEnded = make([]bool, len(r.audioEnc))
	r.progress("transcode", 0)
	if err := r.decode(); err != nil {
		return err
	}
	if err := r.flush(); err != nil {
		return err
	}
	if !r.noPicture && r.videoSent != r.totalFrames {
		return fmt.Errorf("video has %d frames, want %d", r.videoSent, r.totalFrames)
	}
	if r.audioSent < r.totalSamples {
		return fmt.Errorf("audio has %d samples, want %d", r.audioSent, r.totalSamples)
	}
	if err := r.closeOutputs(); err != nil {
		return err
	}
	r.progress("transcode", 100)
	return nil
}

// decode reads the source to its end (or the damage the probe tolerated), pushing what its decoders
// make through the filters, and reports progress by the sound encoded.
func (r *render) decode() error {
	total := time.Duration(r.pr.DurationMS) * time.Millisecond
	pct := -1
	for r.fc.ReadFrame(r.pkt) == nil {
		var err error
		switch idx := r.pkt.StreamIndex(); {
		case idx == r.as.Index():
			if r.adec.SendPacket(r.pkt) == nil {
				err = r.receive(r.adec, r.pushAudio)
			}
		case r.vs != nil && idx == r.vs.Index():
			if r.vdec.SendPacket(r.pkt) == nil {
				err = r.receive(r.vdec, r.pushVideo)
			}
		}
		r.pkt.Unref()
		if err != nil {
			return err
		}
		if total > 0 {
			done := time.Duration(r.audioSent) * time.Second / 48000
			if p := int(done * 100 / total); p > pct && p < 100 {
				pct = p
				r.progress("transcode", p)
			}
		}
	}
	return nil
}

// flush drains the decoders and the filters, then brings the picture to its length: the last picture
// held to the end of the sound (the filters already cut anything longer), or the card drawn to it.
func (r *render) flush() error {
	if r.adec.SendPacket(nil) == nil {
		if err := r.receive(r.adec, r.pushAudio); err != nil {
			return err
		}
	}
	if err := r.pushAudio(nil); err != nil {
		return err
	}
	if r.noPicture {
		return nil
	}
	if r.vs == nil {
		return r.pullCard(r.totalFrames)
	}
	if r.vdec.SendPacket(nil) == nil {
		if err := r.receive(r.vdec, r.pushVideo); err != nil {
			return err
		}
	}
	if err := r.pushVideo(nil); err != nil {
		return err
	}
	return r.holdLast()
}

// holdLast encodes the last picture again until the TV track has its length (nothing without a last
// picture).
func (r *render) holdLast() error {
	for r.videoSent < r.totalFrames && r.last != nil {
		f := r.last.Clone()
		err := r.encodePicture(f)
		f.Free()
		if err != nil {
			return err
		}
	}
	return nil
}

// receive pushes every frame dec has ready; a damaged frame is skipped, as the CLI does.
func (r *render) receive(dec *astiav.CodecContext, push func(*astiav.Frame) error) error {
	_, err := receiveFrames(dec, r.frame, push)
	return err
}

// pushAudio sends decoded sound (nil: the end) into the audio filters and encodes what comes out.
func (r *render) pushAudio(f *astiav.Frame) error {
	if err := r.agraph.push(f); err != nil {
		return fmt.Errorf("audio filters: %w", err)
	}
	return r.pullAudio()
}

// pushVideo sends a decoded picture (nil: the end) into the video filters and encodes what comes out.
func (r *render) pushVideo(f *astiav.Frame) error {
	if err := r.vgraph.push(f); err != nil {
		return fmt.Errorf("video filters: %w", err)
	}
	return r.pullVideo()
}

// pullAudio encodes what every audio sink has ready; over an audio-only lesson, it then draws the card
// as far as the sound has reached.
func (r *render) pullAudio() error {
	for i, sink := range r.agraph.sinks {
		if r.audioEnded[i] {
			continue
		}
		es := r.audioEnc[i]
		ended, err := drain(sink, r.sf, func(f *astiav.Frame) error {
			n := int64(f.NbSamples())
			if i == 0 {
				r.audioSent += n
			}
			return es.encode(f, n)
		})
		if err != nil {
			return err
		}
		r.audioEnded[i] = ended
	}
	if r.vs == nil && !r.noPicture {
		return r.pullCard(r.audioSent * int64(r.tv.fps) / 48000)
	}
	return nil
}

// pullVideo encodes what the video filters have ready.
func (r *render) pullVideo() error {
	if r.videoEnded {
		return nil
	}
	ended, err := drain(r.vgraph.sinks[0], r.sf, r.useVideo)
	r.videoEnded = ended
	return err
}

// pullCard encodes pictures of the card up to picture upTo: the card has no end, so it is pulled as far
// as the sound has reached.
func (r *render) pullCard(upTo int64) error {
	sink := r.vgraph.sinks[0]
	for !r.videoEnded && r.videoSent < upTo && r.videoSent < r.totalFrames {
		if err := sink.BuffersinkGetFrame(r.sf, astiav.NewBuffersinkFlags()); err != nil {
			return fmt.Errorf("card: %w", err)
		}
		err := r.useVideo(r.sf)
		r.sf.Unref()
		if err != nil {
			return err
		}
	}
	return nil
}

// useVideo encodes a conformed picture, keeping it as the last one, until the track has its length.
func (r *render) useVideo(f *astiav.Frame) error {
	if r.videoSent >= r.totalFrames {
		return nil
	}
	if r.last == nil {
		r.last = astiav.AllocFrame()
	}
	r.last.Unref()
	if err := r.last.Ref(f); err != nil {
		return err
	}
	return r.encodePicture(f)
}

// encodePicture encodes f as the next picture of the TV track: one tick of its 1/fps time base.
func (r *render) encodePicture(f *astiav.Frame) error {
	r.videoSent++
	return r.tvVideo.encode(f, 1)
}

// closeOutputs flushes the encoders, writes the trailers and closes the files.
func (r *render) closeOutputs() error {
	for _, o := range r.outs {
		if err := o.finish(); err != nil {
			return err
		}
	}
	for _, o := range r.outs {
		if err := o.io.Close(); err != nil {
			return fmt.Errorf("close %s: %w", filepath.Base(o.path), err)
		}
		o.io = nil
	}
	return nil
}

// measure reads back what was written and checks every file's loudness.
func (r *render) measure() ([]relais.Rendition, error) {
	var rs []relais.Rendition
	var bad []string
	for i, o := range r.outs {
		r.progress("measure", i*100/len(r.outs))
		rd, err := describe(o)
		if err != nil {
			return nil, err
		}
		if math.Abs(rd.IntegratedLUFS-TargetLUFS) > ToleranceLU || rd.TruePeakDBTP > MaxTruePeakDBTP {
			bad = append(bad, fmt.Sprintf("%s: %.1f LUFS, %.1f dBTP (want %.1f +-%.1f LUFS, <= %.1f dBTP)",
				filepath.Base(o.path), rd.IntegratedLUFS, rd.TruePeakDBTP, TargetLUFS, ToleranceLU, MaxTruePeakDBTP))
		}
		rs = append(rs, rd)
	}
	r.progress("measure", 100)
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
	return videoChainFrom(pr, tv, origin, 0)
}

// videoChainFrom is videoChain starting at start seconds of the lesson's clock: the picture of a part
// of a chunked render, on the same 50 Hz grid as the whole.
func videoChainFrom(pr ProbeResult, tv tvFormat, origin, start float64) string {
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
	b.WriteString(fieldChainFrom(tv, start))
	return b.String()
}

// fieldChain makes 50 pictures a second, then, for 1080i25, weaves them into top-field-first frames.
func fieldChain(tv tvFormat) string { return fieldChainFrom(tv, 0) }

// fieldChainFrom is fieldChain whose first picture is the one at start seconds (earlier ones dropped).
func fieldChainFrom(tv tvFormat, start float64) string {
	s := fmt.Sprintf("fps=fps=50:start_time=%.6f,format=yuv420p", start)
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

// h264Settings configures libx264 for the TV picture.
func h264Settings(tv tvFormat) func(*astiav.CodecContext) {
	return func(cc *astiav.CodecContext) {
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
	}
}

// tsOptions are the MPEG-TS muxer's settings: a constant mux rate with room over the picture and the
// sound (in audioCodec), and the PCR and table periods of broadcast.
func tsOptions(tv tvFormat, audioCodec string) map[string]string {
	audioBits := int64(tvMP2BitRate)
	if audioCodec == "aac" {
		audioBits = tvAACBitRate
	}
	muxrate := tv.bitRate*108/100 + audioBits*110/100 + 300_000
	return map[string]string{
		"muxrate":    strconv.FormatInt(muxrate, 10),
		"max_delay":  strconv.Itoa(tsMaxDelayMicros),
		"pcr_period": "20",
		"pat_period": "0.1",
		"sdt_period": "0.5",
		// EN 300 468 service_type 0x19: an H.264 HD service (both TV formats are HD), not 0x01 (MPEG-2 SD).
		"mpegts_service_type": "advanced_codec_digital_hdtv",
	}
}

// iso639 returns the three-letter ISO 639-2 code of a lesson language (ISO 639-1), empty when unknown.
func iso639(lang string) string {
	return map[string]string{"fr": "fra", "en": "eng", "kk": "kaz", "ru": "rus"}[lang]
}

// audio48k configures an encoder for 48 kHz sound in sample format sf and the given layout.
func audio48k(cc *astiav.CodecContext, sf astiav.SampleFormat, layout astiav.ChannelLayout, channels int) {
	cc.SetSampleFormat(sf)
	cc.SetSampleRate(48000)
	cc.SetChannelLayout(layout)
	cc.SetChannels(channels)
	cc.SetTimeBase(astiav.NewRational(1, 48000))
}

// stereoAudio configures a 48 kHz stereo encoder for the TV or radio track.
func stereoAudio(cc *astiav.CodecContext, codec string) {
	if codec == "aac" {
		audio48k(cc, astiav.SampleFormatFltp, astiav.ChannelLayoutStereo, 2)
		cc.SetBitRate(tvAACBitRate)
		return
	}
	audio48k(cc, astiav.SampleFormatS16, astiav.ChannelLayoutStereo, 2)
	cc.SetBitRate(radioBitRate)
}

// opusAudio configures libopus for the low-band track: mono.
func opusAudio(cc *astiav.CodecContext) {
	audio48k(cc, astiav.SampleFormatFlt, astiav.ChannelLayoutMono, 1)
	cc.SetBitRate(lowbandBitRate)
}

// wavAudio configures the radio master: 16-bit stereo PCM.
func wavAudio(cc *astiav.CodecContext) {
	audio48k(cc, astiav.SampleFormatS16, astiav.ChannelLayoutStereo, 2)
}
