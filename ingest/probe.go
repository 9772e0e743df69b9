package ingest

import (
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/relais-edu/relais"
)

// Audio as the renditions carry it, measured by the probe for loudnorm's second pass.
const (
	conformAudio = "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo"
	monoDownmix  = "pan=mono|c0=0.5*c0+0.5*c1"
)

// probeFile checks path in this (child) process.
func probeFile(path string, opts Options) (ProbeResult, error) {
	opts = opts.withDefaults()
	if err := precheck(path, opts.Limits); err != nil {
		return ProbeResult{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return ProbeResult{}, err
	}
	pr := ProbeResult{Bytes: fi.Size()}
	fc, err := openInput(path)
	if err != nil {
		if looksLikeMedia(path) {
			return pr, relais.Errorf(relais.EINVALID, "The file is damaged or cut short: it cannot be opened.")
		}
		return pr, relais.Errorf(relais.EINVALID, "This is not a video or audio file we can read.")
	}
	defer fc.CloseInput()
	if f := fc.InputFormat(); f != nil {
		pr.Format = f.Name()
	}
	if pr.Format == "image2" || strings.HasSuffix(pr.Format, "_pipe") {
		return pr, relais.Errorf(relais.EINVALID, "This is not a video or audio file (it is a picture).")
	}
	if pr.Format == "tty" {
		return pr, relais.Errorf(relais.EINVALID, "This is not a video or audio file (it looks like text).")
	}
	if err := fc.FindStreamInfo(nil); err != nil {
		return pr, relais.Errorf(relais.EINVALID, "The file is damaged: its video and sound cannot be read.")
	}

	var vs, as *astiav.Stream
	for _, s := range fc.Streams() {
		cp := s.CodecParameters()
		st := Stream{Index: s.Index(), Codec: cp.CodecID().Name()}
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			st.Kind, st.Width, st.Height = "video", cp.Width(), cp.Height()
			if isAttachedPic(s) {
				st.Kind = "cover"
			} else if vs == nil {
				vs = s
			}
		case astiav.MediaTypeAudio:
			st.Kind, st.Channels, st.SampleRate = "audio", cp.Channels(), cp.SampleRate()
			if as == nil && cp.Channels() > 0 {
				as = s
			}
		case astiav.MediaTypeSubtitle:
			st.Kind = "subtitle"
		default:
			st.Kind = "data"
		}
		pr.Streams = append(pr.Streams, st)
	}
	if vs == nil && as == nil {
		return pr, relais.Errorf(relais.EINVALID, "This is not a video or audio file: it holds neither pictures nor sound.")
	}
	if as == nil {
		return pr, relais.Errorf(relais.EINVALID, "The file has no sound track.")
	}
	header := time.Duration(0)
	if d := fc.Duration(); d > 0 {
		header = time.Duration(d) * time.Microsecond
	}
	if header > opts.Limits.MaxDuration {
		return pr, relais.Errorf(relais.EINVALID, "The lesson lasts %s; the limit is %s.", relais.HumanDuration(header), relais.HumanDuration(opts.Limits.MaxDuration))
	}
	if vs != nil {
		cp := vs.CodecParameters()
		pr.HasVideo, pr.Width, pr.Height = true, cp.Width(), cp.Height()
		if fr := fc.GuessFrameRate(vs, nil); fr.Num() > 0 && fr.Den() > 0 {
			pr.FrameRate = math.Round(fr.Float64()*1000) / 1000
		}
		pr.Rotation = streamRotation(vs)
		if cs := cp.ColorSpace(); cs != astiav.ColorSpaceUnspecified && cs != astiav.ColorSpaceReserved {
			pr.ColorSpace = colorSpaceName(cs)
		}
		if pr.Width <= 0 || pr.Height <= 0 {
			return pr, relais.Errorf(relais.EINVALID, "The video is damaged: its picture size cannot be read.")
		}
	}
	pr.AudioChannels, pr.SampleRate = as.CodecParameters().Channels(), as.CodecParameters().SampleRate()

	m, err := scan(fc, vs, as, header)
	if err != nil {
		return pr, err
	}
	for i := range pr.Streams {
		pr.Streams[i].DurationMS = m.reach[pr.Streams[i].Index].Milliseconds()
	}
	// The lesson runs from the first stream's start to the last one's end.
	begin, end := m.start[as.Index()], m.start[as.Index()]+m.audio
	if vs != nil {
		begin = min(begin, m.start[vs.Index()])
		end = max(end, m.start[vs.Index()]+m.reach[vs.Index()])
	}
	playable := end - begin
	pr.DurationMS = playable.Milliseconds()
	if header > 0 && playable < header-max(time.Second, header/50) {
		return pr, relais.Errorf(relais.EINVALID, "The file is cut short: it plays %s of the %s it announces.", relais.HumanDuration(playable), relais.HumanDuration(header))
	}
	if vs != nil && !m.videoDecoded {
		return pr, relais.Errorf(relais.EINVALID, "The video is damaged: no picture could be decoded.")
	}
	if m.audioDecodeErrors > 0 && m.audioDecodeErrors*10 > m.audioPackets {
		return pr, relais.Errorf(relais.EINVALID, "The sound track is damaged: %d%% of it cannot be decoded.", m.audioDecodeErrors*100/m.audioPackets)
	}
	if playable < time.Second {
		return pr, relais.Errorf(relais.EINVALID, "The lesson lasts under a second.")
	}
	if playable > opts.Limits.MaxDuration {
		return pr, relais.Errorf(relais.EINVALID, "The lesson lasts %s; the limit is %s.", relais.HumanDuration(playable), relais.HumanDuration(opts.Limits.MaxDuration))
	}
	pr.Loudness, pr.LoudnessMono = m.stereo, m.mono
	if pr.Loudness.IntegratedLUFS <= -69 {
		return pr, relais.Errorf(relais.EINVALID, "The sound track is silent.")
	}
	return pr, nil
}

// streamRotation returns the clockwise rotation, in degrees (0, 90, 180, 270), that displays s upright.
func streamRotation(s *astiav.Stream) int {
	b := s.SideData(astiav.PacketSideDataTypeDisplaymatrix)
	if len(b) < 36 {
		return 0
	}
	m, err := astiav.NewDisplayMatrixFromBytes(b)
	if err != nil {
		return 0
	}
	r := m.Rotation()
	if math.IsNaN(r) {
		return 0
	}
	deg := int(math.Round(r/90)) * 90 % 360
	if deg < 0 {
		deg += 360
	}
	return deg
}

// scanResult is what reading a whole file teaches.
type scanResult struct {
	reach             map[int]time.Duration // per stream: how far its packets reach from its start
	start             map[int]time.Duration // per stream: its start on the file's clock
	audio             time.Duration         // decoded audio
	videoDecoded      bool
	audioPackets      int
	audioDecodeErrors int
	stereo, mono      Loudness
}

// scan reads every packet of fc, decodes the audio stream through the loudness meters and the first
// pictures of the video stream.
func scan(fc *astiav.FormatContext, vs, as *astiav.Stream, header time.Duration) (scanResult, error) {
	r := scanResult{reach: map[int]time.Duration{}, start: map[int]time.Duration{}}
	adec, err := openDecoder(fc, as)
	if err != nil {
		return r, relais.Errorf(relais.EINVALID, "The sound track uses a format we cannot read (%s).", as.CodecParameters().CodecID().Name())
	}
	defer adec.Free()
	var vdec *astiav.CodecContext
	if vs != nil {
		if vdec, err = openDecoder(fc, vs); err != nil {
			return r, relais.Errorf(relais.EINVALID, "The video uses a format we cannot read (%s).", vs.CodecParameters().CodecID().Name())
		}
		defer vdec.Free()
	}
	fg, err := newFilterGraph("abuffer", abufferArgs(adec, as.TimeBase()),
		"[in]asetpts=PTS-STARTPTS,"+conformAudio+",asplit=2[s][m];[s]"+meterTail+"[stereo];[m]"+monoDownmix+","+meterTail+"[mono]",
		"abuffersink", "stereo", "mono")
	if err != nil {
		return r, err
	}
	defer fg.free()
	ms, mm := newMeter(fg.sinks[0]), newMeter(fg.sinks[1])
	var samples int64
	pkt, frame, sf := astiav.AllocPacket(), astiav.AllocFrame(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()
	defer sf.Free()

	push := func(f *astiav.Frame) error {
		if err := fg.src.BuffersrcAddFrame(f, astiav.NewBuffersrcFlags(astiav.BuffersrcFlagKeepRef)); err != nil {
			return err
		}
		if _, err := drain(fg.sinks[0], sf, func(f *astiav.Frame) error { ms.read(f, 2); return nil }); err != nil {
			return err
		}
		_, err := drain(fg.sinks[1], sf, func(f *astiav.Frame) error { mm.read(f, 1); return nil })
		return err
	}
	receiveAudio := func() error {
		for {
			if err := adec.ReceiveFrame(frame); err != nil {
				if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
					return nil
				}
				r.audioDecodeErrors++
				return nil
			}
			samples += int64(frame.NbSamples())
			err := push(frame)
			frame.Unref()
			if err != nil {
				return err
			}
		}
	}
	start := map[int]int64{}
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				break
			}
			// A read error mid-file is what a damaged or cut file looks like; the duration check decides.
			break
		}
		s := fc.Streams()[pkt.StreamIndex()]
		if pts := pkt.Pts(); pts != astiav.NoPtsValue {
			st, ok := start[s.Index()]
			if !ok {
				st = pts
				if s.StartTime() != astiav.NoPtsValue {
					st = s.StartTime()
				}
				start[s.Index()] = st
				r.start[s.Index()] = time.Duration(astiav.RescaleQ(st, s.TimeBase(), astiav.NewRational(1, 1000000))) * time.Microsecond
			}
			end := astiav.RescaleQ(pts+pkt.Duration()-st, s.TimeBase(), astiav.NewRational(1, 1000000))
			if d := time.Duration(end) * time.Microsecond; d > r.reach[s.Index()] {
				r.reach[s.Index()] = d
			}
		}
		switch {
		case s.Index() == as.Index():
			r.audioPackets++
			if err := adec.SendPacket(pkt); err != nil {
				r.audioDecodeErrors++
			} else if err := receiveAudio(); err != nil {
				pkt.Unref()
				return r, err
			}
		case vdec != nil && s.Index() == vs.Index() && !r.videoDecoded:
			if err := vdec.SendPacket(pkt); err == nil {
				if vdec.ReceiveFrame(frame) == nil {
					r.videoDecoded = true
					frame.Unref()
				}
			}
		}
		pkt.Unref()
	}
	if err := adec.SendPacket(nil); err == nil {
		if err := receiveAudio(); err != nil {
			return r, err
		}
	}
	if vdec != nil && !r.videoDecoded {
		if vdec.SendPacket(nil) == nil && vdec.ReceiveFrame(frame) == nil {
			r.videoDecoded = true
			frame.Unref()
		}
	}
	if sr := adec.SampleRate(); sr > 0 {
		ms.end = float64(samples) / float64(sr)
		mm.end = ms.end
	}
	if err := push(nil); err != nil {
		return r, err
	}
	if sr := adec.SampleRate(); sr > 0 {
		r.audio = time.Duration(samples) * time.Second / time.Duration(sr)
	}
	r.stereo, r.mono = ms.result(), mm.result()
	return r, nil
}

// looksLikeMedia reports whether path starts like a media container (MP4/MOV, Matroska/WebM, WAV/AVI,
// Ogg, MP3 with ID3, FLAC, MPEG-TS): a file that does but fails to open is damaged rather than foreign.
func looksLikeMedia(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 189)
	n, _ := io.ReadFull(f, b)
	if n < 12 {
		return false
	}
	s := string(b)
	switch {
	case s[4:8] == "ftyp", s[4:8] == "moov", s[4:8] == "mdat", s[4:8] == "wide", s[4:8] == "free":
		return true
	case s[:4] == "\x1a\x45\xdf\xa3", s[:4] == "RIFF", s[:4] == "OggS", s[:3] == "ID3", s[:4] == "fLaC":
		return true
	case n == len(b) && b[0] == 0x47 && b[188] == 0x47: // two TS packets' sync bytes
		return true
	}
	return false
}

func colorSpaceName(cs astiav.ColorSpace) string {
	switch cs {
	case astiav.ColorSpaceBt709:
		return "bt709"
	case astiav.ColorSpaceBt470Bg:
		return "bt470bg"
	case astiav.ColorSpaceSmpte170M:
		return "smpte170m"
	case astiav.ColorSpaceBt2020Ncl:
		return "bt2020nc"
	}
	return "other"
}
