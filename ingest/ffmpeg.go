package ingest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/asticode/go-astiav"
)

// openInput opens path for demuxing. After a failed OpenInput, FFmpeg has already freed the context and
// astiav's CloseInput would dereference nil, so the caller closes only what this returns.
func openInput(path string) (*astiav.FormatContext, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, errors.New("allocate format context")
	}
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, err
	}
	return fc, nil
}

// openDecoder opens a decoder for s with FFmpeg's automatic thread count.
func openDecoder(fc *astiav.FormatContext, s *astiav.Stream) (*astiav.CodecContext, error) {
	codec := astiav.FindDecoder(s.CodecParameters().CodecID())
	if codec == nil {
		return nil, fmt.Errorf("no decoder for %s", s.CodecParameters().CodecID().Name())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, errors.New("allocate decoder")
	}
	if err := s.CodecParameters().ToCodecContext(cc); err != nil {
		cc.Free()
		return nil, err
	}
	if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
		cc.SetFramerate(fc.GuessFrameRate(s, nil))
	}
	cc.SetTimeBase(s.TimeBase())
	cc.SetThreadCount(0)
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, err
	}
	return cc, nil
}

// filterGraph is a configured FFmpeg filter graph with at most one source and named sinks.
type filterGraph struct {
	g     *astiav.FilterGraph
	src   *astiav.FilterContext
	sinks []*astiav.FilterContext
}

// newFilterGraph builds content ("[in]...[out0];...") between a source of srcFilter with srcArgs (none
// when srcFilter is empty) and one sink of sinkFilter per name in sinks.
func newFilterGraph(srcFilter string, srcArgs astiav.FilterArgs, content, sinkFilter string, sinks ...string) (*filterGraph, error) {
	fg := &filterGraph{g: astiav.AllocFilterGraph()}
	if fg.g == nil {
		return nil, errors.New("allocate filter graph")
	}
	fg.g.SetThreadCount(0)
	ok := false
	defer func() {
		if !ok {
			fg.free()
		}
	}()
	var outputs *astiav.FilterInOut // the source's open output, labelled "in"
	if srcFilter != "" {
		src, err := fg.g.NewFilterContext(astiav.FindFilterByName(srcFilter), "in", srcArgs)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", srcFilter, srcArgs, err)
		}
		fg.src = src
		outputs = astiav.AllocFilterInOut()
		outputs.SetName("in")
		outputs.SetFilterContext(src)
		outputs.SetPadIdx(0)
		outputs.SetNext(nil)
	}
	var inputs, last *astiav.FilterInOut // the sinks' open inputs
	for _, name := range sinks {
		sink, err := fg.g.NewFilterContext(astiav.FindFilterByName(sinkFilter), name, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sinkFilter, err)
		}
		fg.sinks = append(fg.sinks, sink)
		io := astiav.AllocFilterInOut()
		io.SetName(name)
		io.SetFilterContext(sink)
		io.SetPadIdx(0)
		io.SetNext(nil)
		if last == nil {
			inputs = io
		} else {
			last.SetNext(io)
		}
		last = io
	}
	err := fg.g.Parse(content, inputs, outputs)
	if inputs != nil {
		inputs.Free()
	}
	if outputs != nil {
		outputs.Free()
	}
	if err != nil {
		return nil, fmt.Errorf("parse filter graph %q: %w", content, err)
	}
	if err := fg.g.Configure(); err != nil {
		return nil, fmt.Errorf("configure filter graph %q: %w", content, err)
	}
	ok = true
	return fg, nil
}

func (fg *filterGraph) free() {
	if fg != nil && fg.g != nil {
		fg.g.Free()
		fg.g = nil
	}
}

// push sends f (nil: the end) into the graph's source; the graph takes its own reference.
func (fg *filterGraph) push(f *astiav.Frame) error {
	return fg.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef))
}

// abufferArgs describes decoded audio to an abuffer source.
// Decoded frames keep their packets' timestamps: tb is the stream's time base.
func abufferArgs(cc *astiav.CodecContext, tb astiav.Rational) astiav.FilterArgs {
	a := astiav.FilterArgs{
		"sample_fmt":  cc.SampleFormat().Name(),
		"sample_rate": strconv.Itoa(cc.SampleRate()),
		"time_base":   tb.String(),
	}
	if l := cc.ChannelLayout(); l.Valid() && l.NbChannels() > 0 && l.String() != "" && !strings.Contains(l.String(), "channels") {
		a["channel_layout"] = l.String()
	} else {
		// A file that does not name its layout (a plain WAV) gets FFmpeg's default for its count.
		a["channel_layout"] = defaultLayout(cc.Channels())
	}
	return a
}

func defaultLayout(channels int) string {
	switch channels {
	case 1:
		return "mono"
	case 2:
		return "stereo"
	case 3:
		return "2.1"
	case 4:
		return "quad"
	case 5:
		return "5.0"
	case 6:
		return "5.1"
	case 7:
		return "6.1"
	case 8:
		return "7.1"
	}
	return strconv.Itoa(channels) + "c"
}

// bufferArgs describes decoded video to a buffer source.
func bufferArgs(cc *astiav.CodecContext, tb astiav.Rational) astiav.FilterArgs {
	sar := cc.SampleAspectRatio()
	if sar.Num() <= 0 || sar.Den() <= 0 {
		sar = astiav.NewRational(1, 1)
	}
	a := astiav.FilterArgs{
		"pix_fmt":      strconv.Itoa(int(cc.PixelFormat())),
		"pixel_aspect": sar.String(),
		"time_base":    tb.String(),
		"video_size":   strconv.Itoa(cc.Width()) + "x" + strconv.Itoa(cc.Height()),
	}
	if fr := cc.Framerate(); fr.Num() > 0 && fr.Den() > 0 {
		a["frame_rate"] = fr.String()
	}
	return a
}

// meter reads the EBU R 128 figures ebur128 (metadata=1, peak=true) attaches to the frames it passes.
//
// ebur128 attaches its figures at each 100 ms block, so the peaks of a last partial block never reach
// the metadata; the measuring graphs therefore end with meterTail, a little silence after the sound,
// whose frames (from end on) count for the true peak only.
type meter struct {
	sink     *astiav.FilterContext
	channels int // of the sound the sink puts out
	l        Loudness
	peak     float64         // linear true peak so far
	tb       astiav.Rational // of the sink
	end      float64         // seconds: where the padding starts; +Inf until the input ended
}

// meterTail pads the signal so that the last samples reach ebur128's metadata.
const meterTail = "apad=pad_dur=0.25,ebur128=peak=true:metadata=1"

func newMeter(sink *astiav.FilterContext, channels int) *meter {
	return &meter{sink: sink, channels: channels, tb: sink.Inputs()[0].TimeBase(), end: math.Inf(1)}
}

func (m *meter) read(f *astiav.Frame) {
	if t := float64(f.Pts()) * m.tb.Float64(); t < m.end-1e-9 {
		if v, ok := frameMetaFloat(f, "lavfi.r128.I"); ok {
			m.l.IntegratedLUFS = v
		}
		if v, ok := frameMetaFloat(f, "lavfi.r128.LRA"); ok {
			m.l.LRA = v
		}
	}
	for ch := 0; ch < m.channels; ch++ {
		if v, ok := frameMetaFloat(f, "lavfi.r128.true_peaks_ch"+strconv.Itoa(ch)); ok && v > m.peak {
			m.peak = v
		}
	}
}

func (m *meter) result() Loudness {
	l := m.l
	if m.peak > 0 {
		l.TruePeakDBTP = round2(20 * math.Log10(m.peak))
	} else {
		l.TruePeakDBTP = -math.Inf(1)
	}
	if math.IsInf(l.TruePeakDBTP, -1) {
		l.TruePeakDBTP = -144
	}
	l.IntegratedLUFS = round2(l.IntegratedLUFS)
	l.LRA = round2(l.LRA)
	return l
}

// meteredGraph is an audio filter graph with a meter on every sink.
type meteredGraph struct {
	fg     *filterGraph
	meters []*meter      // per sink
	out    *astiav.Frame // what a sink puts out
}

// meterSinks puts a meter on each sink of fg, for sound of channels[i] channels. The meteredGraph takes
// fg over: free frees both.
func meterSinks(fg *filterGraph, channels ...int) *meteredGraph {
	g := &meteredGraph{fg: fg, out: astiav.AllocFrame()}
	for i, ch := range channels {
		g.meters = append(g.meters, newMeter(fg.sinks[i], ch))
	}
	return g
}

// push sends f (nil: the end) through the graph and reads the figures of what every sink puts out.
func (g *meteredGraph) push(f *astiav.Frame) error {
	if err := g.fg.push(f); err != nil {
		return err
	}
	for _, m := range g.meters {
		if _, err := drain(m.sink, g.out, func(f *astiav.Frame) error { m.read(f); return nil }); err != nil {
			return err
		}
	}
	return nil
}

// setEnd tells every meter where the sound ends, in seconds (before the last push).
func (g *meteredGraph) setEnd(end float64) {
	for _, m := range g.meters {
		m.end = end
	}
}

func (g *meteredGraph) results() []Loudness {
	out := make([]Loudness, len(g.meters))
	for i, m := range g.meters {
		out[i] = m.result()
	}
	return out
}

func (g *meteredGraph) free() {
	g.out.Free()
	g.fg.free()
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// drain pulls every frame a sink has ready, handing each to use; it reports whether the sink ended.
func drain(sink *astiav.FilterContext, f *astiav.Frame, use func(*astiav.Frame) error) (bool, error) {
	getErr, err := pullFrames(f, func(f *astiav.Frame) error { return sink.BuffersinkGetFrame(f, astiav.NewBuffersinkFlags()) }, use)
	switch {
	case err != nil:
		return false, err
	case errors.Is(getErr, astiav.ErrEagain):
		return false, nil
	case errors.Is(getErr, astiav.ErrEof):
		return true, nil
	}
	return false, getErr
}

// receiveFrames hands use every frame dec has ready, in f, until the decoder wants more data or has
// ended. A frame the decoder fails on (damaged data) also ends it: that failure is returned as damaged,
// apart from use's error, for the caller to skip, count or report.
func receiveFrames(dec *astiav.CodecContext, f *astiav.Frame, use func(*astiav.Frame) error) (damaged, err error) {
	getErr, err := pullFrames(f, dec.ReceiveFrame, use)
	if err != nil || errors.Is(getErr, astiav.ErrEagain) || errors.Is(getErr, astiav.ErrEof) {
		return nil, err
	}
	return getErr, nil
}

// pullFrames gets frames into f until get fails, handing each to use and releasing it after; it
// returns get's error (astiav.ErrEagain when no frame is ready, astiav.ErrEof at the end, or a
// failure), or else use's.
func pullFrames(f *astiav.Frame, get, use func(*astiav.Frame) error) (getErr, useErr error) {
	for {
		if err := get(f); err != nil {
			return err, nil
		}
		err := use(f)
		f.Unref()
		if err != nil {
			return nil, err
		}
	}
}

// audioSource is the sound track of a file open for decoding: its first audio stream with channels.
type audioSource struct {
	fc  *astiav.FormatContext
	s   *astiav.Stream
	dec *astiav.CodecContext
}

// openAudioSource opens path and the decoder of its sound track; free closes them.
func openAudioSource(path string) (*audioSource, error) {
	fc, err := openInput(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	a := &audioSource{fc: fc}
	ok := false
	defer func() {
		if !ok {
			a.free()
		}
	}()
	if err := fc.FindStreamInfo(nil); err != nil {
		return nil, err
	}
	if a.s = firstAudio(fc); a.s == nil {
		return nil, fmt.Errorf("%s has no audio", path)
	}
	if a.dec, err = openDecoder(fc, a.s); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

func (a *audioSource) free() {
	if a.dec != nil {
		a.dec.Free()
	}
	a.fc.CloseInput()
}

// filterGraph builds content ("[in]...") after an abuffer source of the decoded sound, with one
// abuffersink per name in sinks.
func (a *audioSource) filterGraph(content string, sinks ...string) (*filterGraph, error) {
	return newFilterGraph("abuffer", abufferArgs(a.dec, a.s.TimeBase()), content, "abuffersink", sinks...)
}

// measure decodes the whole sound track through g (all but the last, nil push) and returns the number
// of samples decoded. Strict, a read error (other than the end of the file) or a frame the decoder
// fails on ends it with that error; otherwise the first ends the reading and the second is skipped, as
// the CLI does.
func (a *audioSource) measure(g *meteredGraph, strict bool) (int64, error) {
	pkt, frame := astiav.AllocPacket(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()
	var samples int64
	receive := func() error {
		damaged, err := receiveFrames(a.dec, frame, func(f *astiav.Frame) error {
			samples += int64(f.NbSamples())
			return g.push(f)
		})
		if err == nil && strict {
			err = damaged
		}
		return err
	}
	for {
		if err := a.fc.ReadFrame(pkt); err != nil {
			if strict && !errors.Is(err, astiav.ErrEof) {
				return samples, err
			}
			break
		}
		if pkt.StreamIndex() == a.s.Index() && a.dec.SendPacket(pkt) == nil {
			if err := receive(); err != nil {
				return samples, err
			}
		}
		pkt.Unref()
	}
	if a.dec.SendPacket(nil) == nil {
		return samples, receive()
	}
	return samples, nil
}

// measureFile measures the sound track of path as it is (ebur128 with true peak) and returns its
// loudness, the number of audio samples decoded and their rate.
func measureFile(path string) (Loudness, int64, int, error) {
	a, err := openAudioSource(path)
	if err != nil {
		return Loudness{}, 0, 0, err
	}
	defer a.free()
	fg, err := a.filterGraph("[in]asetpts=PTS-STARTPTS,"+meterTail+"[out]", "out")
	if err != nil {
		return Loudness{}, 0, 0, err
	}
	g := meterSinks(fg, a.dec.Channels())
	defer g.free()
	samples, err := a.measure(g, true)
	if err != nil {
		return Loudness{}, 0, 0, err
	}
	rate := a.dec.SampleRate()
	if rate > 0 {
		g.setEnd(float64(samples) / float64(rate))
	}
	if err := g.push(nil); err != nil {
		return Loudness{}, 0, 0, err
	}
	return g.results()[0], samples, rate, nil
}
