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
	l    Loudness
	peak float64         // linear true peak so far
	tb   astiav.Rational // of the sink
	end  float64         // seconds: where the padding starts; +Inf until the input ended
}

// meterTail pads the signal so that the last samples reach ebur128's metadata.
const meterTail = "apad=pad_dur=0.25,ebur128=peak=true:metadata=1"

func newMeter(sink *astiav.FilterContext) *meter {
	return &meter{tb: sink.Inputs()[0].TimeBase(), end: math.Inf(1)}
}

func (m *meter) read(f *astiav.Frame, channels int) {
	if t := float64(f.Pts()) * m.tb.Float64(); t < m.end-1e-9 {
		if v, ok := frameMetaFloat(f, "lavfi.r128.I"); ok {
			m.l.IntegratedLUFS = v
		}
		if v, ok := frameMetaFloat(f, "lavfi.r128.LRA"); ok {
			m.l.LRA = v
		}
	}
	for ch := 0; ch < channels; ch++ {
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

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// drain pulls every frame a sink has ready, handing each to use; it reports whether the sink ended.
func drain(sink *astiav.FilterContext, f *astiav.Frame, use func(*astiav.Frame) error) (bool, error) {
	for {
		if err := sink.BuffersinkGetFrame(f, astiav.NewBuffersinkFlags()); err != nil {
			if errors.Is(err, astiav.ErrEagain) {
				return false, nil
			}
			if errors.Is(err, astiav.ErrEof) {
				return true, nil
			}
			return false, err
		}
		err := use(f)
		f.Unref()
		if err != nil {
			return false, err
		}
	}
}

// measureFile measures the first audio stream of path as it is (ebur128 with true peak) and returns its
// loudness, the number of audio samples decoded and their rate.
func measureFile(path string) (Loudness, int64, int, error) {
	fc, err := openInput(path)
	if err != nil {
		return Loudness{}, 0, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return Loudness{}, 0, 0, err
	}
	var as *astiav.Stream
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeAudio {
			as = s
			break
		}
	}
	if as == nil {
		return Loudness{}, 0, 0, fmt.Errorf("%s has no audio", path)
	}
	dec, err := openDecoder(fc, as)
	if err != nil {
		return Loudness{}, 0, 0, err
	}
	defer dec.Free()
	fg, err := newFilterGraph("abuffer", abufferArgs(dec, as.TimeBase()), "[in]asetpts=PTS-STARTPTS,"+meterTail+"[out]", "abuffersink", "out")
	if err != nil {
		return Loudness{}, 0, 0, err
	}
	defer fg.free()
	m := newMeter(fg.sinks[0])
	var samples int64
	channels := dec.Channels()
	pkt, frame, sf := astiav.AllocPacket(), astiav.AllocFrame(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()
	defer sf.Free()
	use := func(f *astiav.Frame) error { m.read(f, channels); return nil }
	push := func(f *astiav.Frame) error {
		if f != nil {
			samples += int64(f.NbSamples())
		}
		if err := fg.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
			return err
		}
		_, err := drain(fg.sinks[0], sf, use)
		return err
	}
	receive := func() error {
		for {
			if err := dec.ReceiveFrame(frame); err != nil {
				if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
					return nil
				}
				return err
			}
			err := push(frame)
			frame.Unref()
			if err != nil {
				return err
			}
		}
	}
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			return Loudness{}, 0, 0, err
		}
		if pkt.StreamIndex() == as.Index() {
			if err := dec.SendPacket(pkt); err == nil {
				if err := receive(); err != nil {
					pkt.Unref()
					return Loudness{}, 0, 0, err
				}
			}
		}
		pkt.Unref()
	}
	if err := dec.SendPacket(nil); err == nil {
		if err := receive(); err != nil {
			return Loudness{}, 0, 0, err
		}
	}
	if dec.SampleRate() > 0 {
		m.end = float64(samples) / float64(dec.SampleRate())
	}
	if err := push(nil); err != nil {
		return Loudness{}, 0, 0, err
	}
	return m.result(), samples, dec.SampleRate(), nil
}
