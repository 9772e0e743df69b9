package ingest

import (
	"fmt"
	"math"
	"strings"

	"github.com/asticode/go-astiav"
)

// limiterCeiling is the true-peak ceiling of the limiter path: under loudnormTP's -2 dBTP once MP2 and
// Opus have added their overshoot.
const limiterCeiling = -2.5

// linearOK reports whether loudnorm's second pass can bring a signal measured m to the target with one
// gain (its linear mode): the gain must keep the true peak under loudnormTP.
func linearOK(m Loudness) bool {
	return m.IntegratedLUFS > -70 && m.TruePeakDBTP+(TargetLUFS-m.IntegratedLUFS) <= loudnormTP && m.LRA <= 20
}

// limiterChain applies gain, then limits true peaks (4x oversampled) under limiterCeiling.
func limiterChain(gainDB float64) string {
	return fmt.Sprintf("volume=%.3fdB,aresample=192000,alimiter=limit=%.5f:attack=1:release=50:level=false:latency=true,aresample=48000",
		gainDB, math.Pow(10, limiterCeiling/20))
}

// normalisers returns the stereo and mono normalising filters for a source measured by the probe.
//
// Where one gain suffices, this is loudnorm's second pass in linear mode with the probe's measurement.
// Where that gain would push true peaks over the ceiling, loudnorm would fall back to its dynamic mode,
// which on short or peaky material misses the +-0.5 LU tolerance; that branch instead gets the gain
// ahead of a true-peak limiter. Either way the exact audio of the renditions (the lesson's clock,
// silence filling and cutting to the frame included) is then measured by an audio-only decode (cheap)
// and the gain corrected until it lands within 0.1 LU of the target.
func normalisers(src string, pr ProbeResult, origin float64, totalSamples int64, progress func(string, int)) (stereo, mono string, err error) {
	type branch struct {
		m                  Loudness
		linear             bool
		gain, extra        float64 // limiter gain; correction after loudnorm
		prevGain, prevLUFS float64 // the last try, for the secant step
		tried              bool
	}
	bs := []*branch{{m: pr.Loudness}, {m: pr.LoudnessMono}}
	for _, b := range bs {
		b.linear = linearOK(b.m)
		b.gain = TargetLUFS - b.m.IntegratedLUFS
	}
	norm := func(b *branch) string {
		if b.linear {
			if math.Abs(b.extra) < 0.005 {
				return loudnorm(b.m)
			}
			return fmt.Sprintf("%s,volume=%.3fdB", loudnorm(b.m), b.extra)
		}
		return limiterChain(b.gain)
	}
	need := []int{0, 1}
	end := float64(totalSamples) / 48000
	for iter := 0; len(need) > 0; iter++ {
		if iter == 8 {
			return "", "", fmt.Errorf("loudness did not converge: %s | %s", norm(bs[0]), norm(bs[1]))
		}
		progress("normalise", iter*100/8)
		var chains []string
		for _, i := range need {
			chains = append(chains, audioBranch(i == 1, norm(bs[i]), totalSamples))
		}
		got, err := measureChains(src, audioHead(origin), chains, end)
		if err != nil {
			return "", "", err
		}
		var again []int
		for k, i := range need {
			b, l := bs[i], got[k].IntegratedLUFS
			d := TargetLUFS - l
			peakOK := got[k].TruePeakDBTP <= loudnormTP+0.2
			if math.Abs(d) <= 0.1 && peakOK {
				continue
			}
			if b.linear && got[k].TruePeakDBTP+d <= loudnormTP {
				b.extra += d // a little more or less gain still fits under the ceiling
			} else {
				if b.linear { // from loudnorm's gain to the limiter path
					b.linear, b.gain = false, TargetLUFS-b.m.IntegratedLUFS+b.extra
				}
				slope := 1.0
				if dg := b.gain - b.prevGain; b.tried && math.Abs(dg) > 0.01 {
					slope = math.Max(0.1, math.Min(1, (l-b.prevLUFS)/dg))
				}
				b.prevGain, b.prevLUFS, b.tried = b.gain, l, true
				b.gain += d / slope
			}
			again = append(again, i)
		}
		need = again
	}
	progress("normalise", 100)
	return norm(bs[0]), norm(bs[1]), nil
}

// measureChains decodes the first audio stream of path once, passes it through head and measures it
// through each of chains. end is the length, in seconds, of what the chains put out (0: the source's).
func measureChains(path, head string, chains []string, end float64) ([]Loudness, error) {
	a, err := openAudioSource(path)
	if err != nil {
		return nil, err
	}
	defer a.free()
	content, sinks := measureGraph(head, chains)
	fg, err := a.filterGraph(content, sinks...)
	if err != nil {
		return nil, err
	}
	channels := make([]int, len(chains))
	for i, c := range chains {
		channels[i] = 2
		if strings.HasPrefix(c, monoDownmix) { // a mono branch
			channels[i] = 1
		}
	}
	g := meterSinks(fg, channels...)
	defer g.free()
	samples, err := a.measure(g, false)
	if err != nil {
		return nil, err
	}
	if end <= 0 {
		end = float64(samples) / float64(max(a.dec.SampleRate(), 1))
	}
	g.setEnd(end)
	if err := g.push(nil); err != nil {
		return nil, err
	}
	return g.results(), nil
}

// measureGraph is the filter graph of measureChains: head, split to each of chains, each measured, and
// the names of its sinks.
func measureGraph(head string, chains []string) (string, []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "[in]%s,asplit=%d", head, len(chains))
	var sinks []string
	for i := range chains {
		fmt.Fprintf(&b, "[b%d]", i)
	}
	for i, c := range chains {
		name := fmt.Sprintf("m%d", i)
		fmt.Fprintf(&b, ";[b%d]%s,%s[%s]", i, c, meterTail, name)
		sinks = append(sinks, name)
	}
	return b.String(), sinks
}

// firstAudio is the sound track Relais uses: the first audio stream with channels.
func firstAudio(fc *astiav.FormatContext) *astiav.Stream {
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeAudio && s.CodecParameters().Channels() > 0 {
			return s
		}
	}
	return nil
}
