package ingest

import (
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
	if err := readContainer(fc, &pr); err != nil {
		return pr, err
	}
	vs, as := listStreams(fc, &pr)
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
		if err := readVideo(fc, vs, &pr); err != nil {
			return pr, err
		}
	}
	pr.AudioChannels, pr.SampleRate = as.CodecParameters().Channels(), as.CodecParameters().SampleRate()

	m, err := scan(fc, vs, as)
	if err != nil {
		return pr, err
	}
	return pr, judgeScan(&pr, m, vs, as, header, opts.Limits)
}

// readContainer names the container of fc in pr, refuses pictures and text, and reads the streams'
// parameters.
func readContainer(fc *astiav.FormatContext, pr *ProbeResult) error {
	if f := fc.InputFormat(); f != nil {
		pr.Format = f.Name()
	}
	if pr.Format == "image2" || strings.HasSuffix(pr.Format, "_pipe") {
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it is a picture).")
	}
	if pr.Format == "tty" {
		return relais.Errorf(relais.EINVALID, "This is not a video or audio file (it looks like text).")
	}
	if err := fc.FindStreamInfo(nil); err != nil {
		return relais.Errorf(relais.EINVALID, "The file is damaged: its video and sound cannot be read.")
	}
	return nil
}

// listStreams lists the streams of fc in pr and returns the ones Relais uses: the first moving picture
// (not cover art) and the first sound track with channels, each nil when there is none.
func listStreams(fc *astiav.FormatContext, pr *ProbeResult) (vs, as *astiav.Stream) {
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
	return vs, as
}

// readVideo records the picture of vs in pr: size, rate, rotation and colour space.
func readVideo(fc *astiav.FormatContext, vs *astiav.Stream, pr *ProbeResult) error {
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
		return relais.Errorf(relais.EINVALID, "The video is damaged: its picture size cannot be read.")
	}
	return nil
}

// judgeScan records in pr what the scan found (the streams' lengths, the lesson's, its loudness) and
// refuses a file cut short, damaged, too short or long, or silent. header is the length the container
// announces (0: none).
func judgeScan(pr *ProbeResult, m scanResult, vs, as *astiav.Stream, header time.Duration, limits Limits) error {
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
		return relais.Errorf(relais.EINVALID, "The file is cut short: it plays %s of the %s it announces.", relais.HumanDuration(playable), relais.HumanDuration(header))
	}
	if vs != nil && !m.videoDecoded {
		return relais.Errorf(relais.EINVALID, "The video is damaged: no picture could be decoded.")
	}
	if m.audioDecodeErrors > 0 && m.audioDecodeErrors*10 > m.audioPackets {
		return relais.Errorf(relais.EINVALID, "The sound track is damaged: %d%% of it cannot be decoded.", m.audioDecodeErrors*100/m.audioPackets)
	}
	if playable < time.Second {
		return relais.Errorf(relais.EINVALID, "The lesson lasts under a second.")
	}
	if playable > limits.MaxDuration {
		return relais.Errorf(relais.EINVALID, "The lesson lasts %s; the limit is %s.", relais.HumanDuration(playable), relais.HumanDuration(limits.MaxDuration))
	}
	pr.Loudness, pr.LoudnessMono = m.stereo, m.mono
	if pr.Loudness.IntegratedLUFS <= -69 {
		return relais.Errorf(relais.EINVALID, "The sound track is silent.")
	}
	return nil
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
func scan(fc *astiav.FormatContext, vs, as *astiav.Stream) (scanResult, error) {
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
	g := meterSinks(fg, 2, 1) // stereo, mono
	defer g.free()
	var samples int64
	pkt, frame := astiav.AllocPacket(), astiav.AllocFrame()
	defer pkt.Free()
	defer frame.Free()

	receiveAudio := func() error {
		damaged, err := receiveFrames(adec, frame, func(f *astiav.Frame) error {
			samples += int64(f.NbSamples())
			return g.push(f)
		})
		if damaged != nil {
			r.audioDecodeErrors++
		}
		return err
	}
	start := map[int]int64{}
	// A read error mid-file is what a damaged or cut file looks like: the reading stops there and the
	// duration check decides.
	for fc.ReadFrame(pkt) == nil {
		s := fc.Streams()[pkt.StreamIndex()]
		r.place(s, pkt, start)
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
			r.videoDecoded = decodesPicture(vdec, pkt, frame)
		}
		pkt.Unref()
	}
	if err := adec.SendPacket(nil); err == nil {
		if err := receiveAudio(); err != nil {
			return r, err
		}
	}
	if vdec != nil && !r.videoDecoded {
		r.videoDecoded = decodesPicture(vdec, nil, frame)
	}
	if sr := adec.SampleRate(); sr > 0 {
		g.setEnd(float64(samples) / float64(sr))
	}
	if err := g.push(nil); err != nil {
		return r, err
	}
	if sr := adec.SampleRate(); sr > 0 {
		r.audio = time.Duration(samples) * time.Second / time.Duration(sr)
	}
	l := g.results()
	r.stereo, r.mono = l[0], l[1]
	return r, nil
}

// place notes where pkt, a packet of s, lies: s's start on the file's clock (its declared start, else
// its first timed packet's) and how far its packets reach from there. first holds each stream's start
// in its own time base.
func (r *scanResult) place(s *astiav.Stream, pkt *astiav.Packet, first map[int]int64) {
	pts := pkt.Pts()
	if pts == astiav.NoPtsValue {
		return
	}
	st, ok := first[s.Index()]
	if !ok {
		st = pts
		if s.StartTime() != astiav.NoPtsValue {
			st = s.StartTime()
		}
		first[s.Index()] = st
		r.start[s.Index()] = time.Duration(astiav.RescaleQ(st, s.TimeBase(), astiav.NewRational(1, 1000000))) * time.Microsecond
	}
	end := astiav.RescaleQ(pts+pkt.Duration()-st, s.TimeBase(), astiav.NewRational(1, 1000000))
	if d := time.Duration(end) * time.Microsecond; d > r.reach[s.Index()] {
		r.reach[s.Index()] = d
	}
}

// decodesPicture reports whether dec makes a picture of pkt (nil: what it still holds).
func decodesPicture(dec *astiav.CodecContext, pkt *astiav.Packet, f *astiav.Frame) bool {
	if dec.SendPacket(pkt) != nil || dec.ReceiveFrame(f) != nil {
		return false
	}
	f.Unref()
	return true
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
