package sms

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// calcResult is what testdata/calculator/count.js reports for one text, and what measure must match.
type calcResult struct {
	Encoding   string     `json:"encoding"`
	Segments   int        `json:"segments"`
	Characters int        `json:"characters"`
	NonGSM     []string   `json:"non_gsm"`
	Split      [][]string `json:"split"`
}

// calculator runs Twilio's calculator (the npm package pinned in testdata/calculator) on texts.
func calculator(t *testing.T, texts []string) []calcResult {
	t.Helper()
	dir := filepath.Join("testdata", "calculator")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "sms-segments-calculator", "package.json")); err != nil {
		t.Fatalf("Twilio's segment calculator is not installed (%v): run `npm ci --prefix channels/sms/testdata/calculator` from the repository root", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed to run Twilio's segment calculator: %v", err)
	}
	type input struct {
		Text  string `json:"text"`
		Smart bool   `json:"smart"`
	}
	in := make([]input, len(texts))
	for i, s := range texts {
		in[i] = input{Text: s}
	}
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "count.js")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node count.js: %v\n%s", err, stderr.String())
	}
	var res []calcResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode calculator output: %v", err)
	}
	if len(res) != len(texts) {
		t.Fatalf("calculator answered %d results for %d texts", len(res), len(texts))
	}
	for i := range res {
		res[i].NonGSM = dedupe(res[i].NonGSM)
	}
	return res
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func ours(s string) calcResult {
	enc, split, chars, nonGSM := measure(s)
	c := Measure(s)
	if c.Encoding != enc || c.Segments != len(split) || c.Characters != chars {
		panic("Measure disagrees with measure")
	}
	return calcResult{Encoding: enc, Segments: len(split), Characters: chars, NonGSM: nonGSM, Split: split}
}

// corpus is the hand-picked part of the comparison: every case named for what it exercises.
func corpus() map[string]string {
	r := strings.Repeat
	c := map[string]string{
		"empty":                     "",
		"plain":                     "Hello, world!",
		"french in GSM-7":           "Leçon à réviser: où est l'élève? Çà et là, très ému.",
		"french accents capital É":  "École Élise Ñandú ÄÖÜ äöüß ñ ì ò",
		"french ê forces UCS-2":     "Fenêtre",
		"french â î ô û ç ë ï œ":    "château île hôtel sûr garçon Noël naïf cœur",
		"french À È capitals":       "À bientôt, È",
		"guillemets and curly":      "« Bonjour » l’école – voilà…",
		"nbsp and narrow nbsp":      "Leçon\u00a0: 1\u202f000",
		"cyrillic ru":               "Урок математики: дроби. Смотрите в 10:00 на канале Балапан.",
		"kazakh":                    "Сабақ: бөлшектер. Балапан арнасында 10:00-де көріңіз. әғқңөұүһі",
		"extension table":           "^{}\\[~]|€\f",
		"extension in UCS-2":        "ж^{}\\[~]|€",
		"greek GSM letters":         "ΓΔΘΛΞΠΣΦΨΩ",
		"greek non GSM":             "αβγ",
		"emoji":                     "Bravo 😀",
		"emoji skin tone":           "👍🏽 ok",
		"emoji family ZWJ":          "👨‍👩‍👧‍👦 famille",
		"emoji profession ZWJ":      "👩‍🏫 teacher",
		"flags":                     "🇫🇷🇰🇿🇷🇺🇬🇧",
		"odd flags":                 "🇫🇷🇰",
		"keycap":                    "1️⃣ 2️⃣",
		"combining acute":           "e\u0301cole",
		"combining cyrillic":        "и\u0306 й",
		"many combining marks":      "a" + r("\u0301", 100) + "b",
		"CRLF":                      "line one\r\nline two\r\n",
		"CR alone":                  "a\rb",
		"LF":                        "a\nb\n",
		"tab":                       "a\tb",
		"backtick":                  "`code`",
		"hangul":                    "한국어 수업",
		"hangul jamo":               "\u1100\u1161\u11a8",
		"devanagari":                "नमस्ते क्षत्रिय",
		"arabic prepend":            "\u0600\u0661 \u06dd\u0662",
		"zero width joiner alone":   "a\u200db",
		"emoji modifier after ctrl": "\n🏽",
		"supplementary CJK":         "𠀀𠀁 text",
		"NUL and controls":          "a\x00b\x1bc\x7f",
		"replacement char":          "a\ufffdb",
	}
	for _, n := range []int{1, 69, 70, 71, 133, 134, 135, 200, 201, 202, 268, 269} {
		c["ucs2 cyrillic x"+itoa(n)] = r("ж", n)
	}
	for _, n := range []int{159, 160, 161, 305, 306, 307, 458, 459, 460, 1600} {
		c["gsm x"+itoa(n)] = r("a", n)
	}
	// An escape pair at every position around the cut of the first and second segments.
	for _, n := range []int{150, 151, 152, 153, 157, 158, 159, 160, 304, 305, 306} {
		c["gsm escape after "+itoa(n)] = r("a", n) + "€" + r("b", 10)
		c["gsm escape pair at end after "+itoa(n)] = r("a", n) + "{"
	}
	// A surrogate pair and a long grapheme around the UCS-2 cuts.
	for _, n := range []int{64, 65, 66, 67, 68, 69, 70, 132, 133, 134} {
		c["ucs2 emoji after "+itoa(n)] = r("ж", n) + "😀" + "ж"
		c["ucs2 family after "+itoa(n)] = r("ж", n) + "👨‍👩‍👧" + "ж"
		c["ucs2 flag after "+itoa(n)] = r("ж", n) + "🇫🇷"
		c["ucs2 combining after "+itoa(n)] = r("ж", n) + "e\u0301\u0302"
	}
	// Where Unicode 10 (the calculator's grapheme-splitter) and later versions cluster differently, at
	// the UCS-2 cut: a skin tone on an emoji newer than Unicode 10 or on a letter stands alone.
	c["ucs2 newer emoji skin tone at the cut"] = r("ж", 65) + "🫶🏽" + r("ж", 65)
	c["ucs2 skin tone after a letter at the cut"] = r("ж", 66) + "Z🏽" + r("ж", 65)
	c["newer ZWJ sequences and skin tones"] = "🐈‍⬛ ❤️‍🔥 🧑‍🏫 👩🏽‍🏫 🦸🏾 Merci 🫶🏽"
	// French text that crosses segments: accents in GSM-7 (é) then one ê turning it to UCS-2.
	long := r("Révisez la leçon de géométrie à la maison. ", 8)
	c["french long GSM-7"] = long
	c["french long with ê"] = long + "Fête"
	return c
}

func itoa(n int) string { return strconv.Itoa(n) }

// fuzzed returns deterministic random texts mixing every kind of character the counter treats apart.
func fuzzed(n int) []string {
	pieces := []string{"a", "e", "Z", " ", ".", "\n", "\r", "\r\n", "é", "à", "Ç", "€", "{", "^", "|", "~", "\\",
		"ê", "ç", "œ", "«", "’", "…", "\u00a0", "ж", "Ә", "ү", "😀", "👍", "🏽", "\u200d", "👩", "🏫", "🇫", "🇷",
		"\u0301", "\u0306", "\u0903", "क", "\u094d", "\u0600", "\u1100", "\u1161", "\u11a8", "한", "𠀀", "\t", "`"}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		// Long runs of one piece push the text across segment cuts; mixes test everything else.
		length := rng.IntN(420)
		base := pieces[rng.IntN(3)]
		if rng.IntN(2) == 0 {
			base = "ж"
		}
		for j := 0; j < length; j++ {
			if rng.IntN(10) < 7 {
				b.WriteString(base)
			} else {
				b.WriteString(pieces[rng.IntN(len(pieces))])
			}
		}
		out[i] = b.String()
	}
	return out
}

func TestMeasureMatchesTwilioCalculator(t *testing.T) {
	c := corpus()
	var names, texts []string
	for name, text := range c {
		names = append(names, name)
		texts = append(texts, text)
	}
	for i, s := range fuzzed(600) {
		names = append(names, "fuzz "+itoa(i))
		texts = append(texts, s)
	}
	want := calculator(t, texts)
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(want[i], ours(texts[i])); diff != "" {
				t.Errorf("Measure(%q) differs from the calculator (-calculator +ours):\n%s", texts[i], diff)
			}
		})
	}
}

// TestEveryBMPCharacter compares the encoding and cost of every character of the Basic Multilingual
// Plane, alone and after a GSM-7 letter, with the calculator: it pins the GSM-7 table and the
// grapheme properties.
func TestEveryBMPCharacter(t *testing.T) {
	var texts []string
	for r := rune(0); r < 0x10000; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		texts = append(texts, "a"+string(r)+"b")
	}
	want := calculator(t, texts)
	bad := 0
	for i, s := range texts {
		if diff := cmp.Diff(want[i], ours(s)); diff != "" {
			bad++
			if bad <= 20 {
				t.Errorf("Measure(%+q) (-calculator +ours):\n%s", s, diff)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d characters differ", bad, len(texts))
	}
}

// TestHangulSyllables compares every Hangul syllable with the calculator where its property decides the
// clusters, which TestEveryBMPCharacter cannot see (between two letters, LV, LVT and Other all stand
// alone): after a leading consonant (L × LV, L × LVT) and before a vowel and a trailing consonant
// (LV × V but LVT ÷ V, then V × T). An LV syllable makes one grapheme, an LVT two, anything else three.
func TestHangulSyllables(t *testing.T) {
	var texts []string
	for r := rune(sBase); r < sBase+sCount; r++ {
		texts = append(texts, "\u1100"+string(r)+"\u1161\u11a8")
	}
	want := calculator(t, texts)
	bad := 0
	for i, s := range texts {
		if diff := cmp.Diff(want[i], ours(s)); diff != "" {
			bad++
			if bad <= 20 {
				t.Errorf("Measure(%+q) (-calculator +ours):\n%s", s, diff)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d syllables differ", bad, len(texts))
	}
}

func TestSmart(t *testing.T) {
	tests := []struct {
		in, want string
		enc      string
	}{
		{"« Bonjour » l’école – voilà…", `"Bonjour" l'école - voilà...`, GSM7},
		{"«\u202fBonjour\u202f» et «non»", `"Bonjour" et "non"`, GSM7},
		{"Prix\u00a0: 1\u202f000", "Prix : 1 000", GSM7},
		{"e\u0301cole", "école", GSM7},                     // composed, not stripped
		{"Fenêtre « ouverte »", `Fenêtre "ouverte"`, UCS2}, // ê stays: a letter is never replaced
		{"garçon", "garçon", UCS2},
		{"cœur", "cœur", UCS2},
		{"Урок — дроби", "Урок - дроби", UCS2},
		{"ê\u0302", "ê\u0302", UCS2}, // combining marks are kept (Twilio would write "^")
		{"a\u200bb\ufeff", "ab", GSM7},
		{"😀", "😀", UCS2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Smart(tt.in)
			if got != tt.want {
				t.Errorf("Smart(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if enc := Measure(got).Encoding; enc != tt.enc {
				t.Errorf("Measure(Smart(%q)).Encoding = %s, want %s", tt.in, enc, tt.enc)
			}
		})
	}
}

func TestSmartMapKeepsLettersAndWritesGSM7(t *testing.T) {
	for r, s := range smartMap {
		if isLetterOrMark(r) {
			t.Errorf("smartMap replaces %U %q, a letter or mark", r, r)
		}
		if s != "" && Measure(s).Encoding != GSM7 {
			t.Errorf("smartMap[%U] = %q, not GSM-7", r, s)
		}
		if !utf8.ValidRune(r) || unicode.IsControl(r) && r != '\t' {
			t.Errorf("smartMap key %U is a control character", r)
		}
	}
}
