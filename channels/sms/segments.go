package sms

import (
	"sort"
	"unicode/utf8"
)

//go:generate node testdata/calculator/graphemeprops.js graphemeprops.go

// Encodings of an SMS body.
const (
	GSM7 = "GSM-7"
	UCS2 = "UCS-2"
)

// Count is what an SMS body costs, exactly as Twilio's segment calculator (npm sms-segments-calculator)
// counts it.
type Count struct {
	Encoding   string // GSM7 or UCS2
	Segments   int
	Characters int // GSM-7: septets (an extension character counts two); UCS-2: graphemes
	// NonGSM lists the characters (graphemes) that force UCS-2, once each, in order of first appearance.
	NonGSM []string
}

// A segment carries 140 octets. Every segment of a concatenated message starts with a 6-octet user data
// header; a GSM-7 character costs 7 bits (an extension character two of them), a UCS-2 one 16 bits per
// UTF-16 code unit.
const (
	segmentBits = 140 * 8
	headerBits  = 6 * 8
)

// Measure counts text as Twilio's calculator does: graphemes are never split across segments, nor are
// GSM-7 escape pairs; one character outside GSM-7 makes the whole message UCS-2.
func Measure(text string) Count {
	enc, segs, chars, nonGSM := measure(text)
	return Count{Encoding: enc, Segments: len(segs), Characters: chars, NonGSM: nonGSM}
}

// encodedChar is one grapheme as it is carried.
type encodedChar struct {
	raw  string
	bits int
}

type segment struct {
	bits  int // including the user data header when there is one
	chars []encodedChar
}

// measure returns the encoding, the graphemes of each segment, the character count and the characters
// that force UCS-2. It mirrors SegmentedMessage in the calculator step by step so that edge cases (a
// grapheme longer than a segment, CR LF) come out the same.
func measure(text string) (encoding string, segs [][]string, characters int, nonGSM []string) {
	gs := splitGraphemes(text)
	encoding = GSM7
	seen := map[string]bool{}
	for _, g := range gs {
		if !isGSM7(g) {
			encoding = UCS2
			if !seen[g] {
				seen[g] = true
				nonGSM = append(nonGSM, g)
			}
		}
	}
	chars := make([]encodedChar, len(gs))
	for i, g := range gs {
		c := encodedChar{raw: g}
		switch {
		case encoding == GSM7:
			units := 1
			if gsmExtension[[]rune(g)[0]] {
				units = 2
			}
			c.bits = 7 * units
			characters += units
		case isGSM7(g):
			c.bits = 16
			characters++
		default:
			c.bits = 16 * utf16Len(g)
			characters++
		}
		chars[i] = c
	}

	all := []*segment{{}}
	cur := all[0]
	for _, c := range chars {
		if segmentBits-cur.bits < c.bits {
			prev := cur
			cur = &segment{bits: headerBits}
			all = append(all, cur)
			if len(all) == 2 { // the first segment gets its header now, and gives back what no longer fits
				prev.bits += headerBits
				cut := len(prev.chars)
				for prev.bits > segmentBits && cut > 0 {
					cut--
					prev.bits -= prev.chars[cut].bits
				}
				moved := prev.chars[cut:]
				prev.chars = prev.chars[:cut:cut]
				for _, m := range moved {
					cur.chars = append(cur.chars, m)
					cur.bits += m.bits
				}
			}
		}
		cur.chars = append(cur.chars, c)
		cur.bits += c.bits
	}
	segs = make([][]string, len(all))
	for i, s := range all {
		segs[i] = []string{}
		for _, c := range s.chars {
			segs[i] = append(segs[i], c.raw)
		}
	}
	return encoding, segs, characters, nonGSM
}

// isGSM7 reports whether grapheme g is one character of the GSM 03.38 basic or extension table.
func isGSM7(g string) bool {
	r, n := utf8.DecodeRuneInString(g)
	if n != len(g) || r >= 0x10000 {
		return false
	}
	return gsmBasic[r] || gsmExtension[r]
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// gsmBasic and gsmExtension are the characters of GSM 03.38 as the calculator maps them from Unicode.
var gsmBasic = runeSet("\n\r !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_" +
	"abcdefghijklmnopqrstuvwxyz¡£¤¥§¿ÄÅÆÇÉÑÖØÜßàäåæèéìñòöøùüΓΔΘΛΞΠΣΦΨΩ")

// gsmExtension characters cost an escape plus one septet: form feed ^ { } \ [ ~ ] | €.
var gsmExtension = runeSet("\f^{}\\[~]|€")

func runeSet(s string) map[rune]bool {
	m := make(map[rune]bool)
	for _, r := range s {
		m[r] = true
	}
	return m
}

// splitGraphemes splits s into grapheme clusters the way grapheme-splitter 1.0.4 (Unicode 10, used by
// the calculator) does, then splits a CR LF cluster into its two characters as the calculator does.
//
// A current segmenter (github.com/rivo/uniseg, Unicode 15) would count differently: since Unicode 11 a
// skin tone attaches to any character and ZWJ joins only pictographs, and marks added since Unicode 10
// attach. Twilio's calculator (1.3.0, still on grapheme-splitter 1.0.4) then disagrees on characters
// and even segments: 65 Cyrillic letters, 🫶🏽 and 65 more are two segments for Twilio, three for uniseg.
func splitGraphemes(s string) []string {
	var runes []rune
	var offs []int
	for i, r := range s {
		runes = append(runes, r)
		offs = append(offs, i)
	}
	offs = append(offs, len(s))
	props := make([]gbProp, len(runes))
	for i, r := range runes {
		props[i] = breakProperty(r)
	}
	var out []string
	for start := 0; start < len(runes); {
		end := nextBreak(props, start)
		g := s[offs[start]:offs[end]]
		if g == "\r\n" {
			out = append(out, "\r", "\n")
		} else {
			out = append(out, g)
		}
		start = end
	}
	return out
}

func nextBreak(props []gbProp, index int) int {
	if index >= len(props)-1 {
		return len(props)
	}
	start := props[index]
	var mid []gbProp
	for i := index + 1; i < len(props); i++ {
		if shouldBreak(start, mid, props[i]) {
			return i
		}
		mid = append(mid, props[i])
	}
	return len(props)
}

// gbProp is a grapheme break property of UAX #29 (Unicode 10, with the emoji classes of that version).
type gbProp uint8

const (
	gbCR gbProp = iota
	gbLF
	gbControl
	gbExtend
	gbRegionalIndicator
	gbSpacingMark
	gbL
	gbV
	gbT
	gbLV
	gbLVT
	gbOther
	gbPrepend
	gbEBase
	gbEModifier
	gbZWJ
	gbGlueAfterZWJ
	gbEBaseGAZ
)

type graphemeRange struct {
	lo, hi rune
	prop   gbProp
}

// Hangul syllables (Unicode ch. 3.12) are the sCount code points from sBase, in blocks of tCount: the first
// of each block is a leading consonant and a vowel (LV), the other tCount-1 add a trailing consonant (LVT).
const (
	sBase  = 0xAC00
	sCount = 11172
	tCount = 28
)

// breakProperty is grapheme-splitter's property of r: computed for Hangul syllables, looked up in
// graphemeRanges for everything else.
func breakProperty(r rune) gbProp {
	if r >= sBase && r < sBase+sCount {
		if (r-sBase)%tCount == 0 {
			return gbLV
		}
		return gbLVT
	}
	i := sort.Search(len(graphemeRanges), func(i int) bool { return graphemeRanges[i].hi >= r })
	if i < len(graphemeRanges) && graphemeRanges[i].lo <= r {
		return graphemeRanges[i].prop
	}
	return gbOther
}

// shouldBreak is grapheme-splitter's rule chain, kept in its order and with its quirks: start is the
// first character of the cluster so far, mid the rest of it, next the candidate.
func shouldBreak(start gbProp, mid []gbProp, next gbProp) bool {
	all := make([]gbProp, 0, len(mid)+2)
	all = append(append(append(all, start), mid...), next)
	previous := all[len(all)-2]

	// Look-ahead terminators for GB10 and GB12/GB13.
	if i := lastIndex(all, gbEModifier); i > 1 && every(all[1:i], gbExtend) &&
		start != gbExtend && start != gbEBase && start != gbEBaseGAZ {
		return true
	}
	if i := lastIndex(all, gbRegionalIndicator); i > 0 && every(all[1:i], gbRegionalIndicator) &&
		previous != gbPrepend && previous != gbRegionalIndicator {
		return true
	}

	isControl := func(p gbProp) bool { return p == gbControl || p == gbCR || p == gbLF }
	switch {
	case previous == gbCR && next == gbLF: // GB3
		return false
	case isControl(previous): // GB4
		return true
	case isControl(next): // GB5
		return true
	case previous == gbL && (next == gbL || next == gbV || next == gbLV || next == gbLVT): // GB6
		return false
	case (previous == gbLV || previous == gbV) && (next == gbV || next == gbT): // GB7
		return false
	case (previous == gbLVT || previous == gbT) && next == gbT: // GB8
		return false
	case next == gbExtend || next == gbZWJ: // GB9
		return false
	case next == gbSpacingMark: // GB9a
		return false
	case previous == gbPrepend: // GB9b
		return false
	}

	// GB10: (E_Base | EBG) Extend* × E_Modifier
	pne := len(all) - 2
	if lastIndex(all, gbExtend) != -1 {
		pne = lastIndex(all, gbExtend) - 1
	}
	if pne >= 0 && (all[pne] == gbEBase || all[pne] == gbEBaseGAZ) &&
		every(all[pne+1:len(all)-1], gbExtend) && next == gbEModifier {
		return false
	}
	// GB11: ZWJ × (Glue_After_Zwj | EBG)
	if previous == gbZWJ && (next == gbGlueAfterZWJ || next == gbEBaseGAZ) {
		return false
	}
	// GB12, GB13: regional indicators pair up.
	if lastIndex(mid, gbRegionalIndicator) != -1 {
		return true
	}
	if previous == gbRegionalIndicator && next == gbRegionalIndicator {
		return false
	}
	return true // GB999
}

func lastIndex(ps []gbProp, p gbProp) int {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i] == p {
			return i
		}
	}
	return -1
}

func every(ps []gbProp, p gbProp) bool {
	for _, q := range ps {
		if q != p {
			return false
		}
	}
	return true
}
