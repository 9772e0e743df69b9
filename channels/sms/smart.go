package sms

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Smart applies Relais' typographic policy to an SMS body: it composes decomposed accents (NFC, so
// "e" + combining acute becomes "é", which GSM-7 has) and replaces typographic punctuation and spaces with
// their GSM-7 equivalents: curly quotes and guillemets, dashes, ellipsis, bullets, no-break and thin spaces,
// zero-width characters. It never replaces or removes a letter or an accent: "ê", "ç", "œ" and Cyrillic
// stay as they are and keep the message in UCS-2, because a wrong letter changes the meaning of a word.
// Guillemets become straight double quotes and lose the spaces French typography puts inside them.
//
// The table is the punctuation part of Twilio's Smart Encoding as the calculator emulates it; Twilio's
// own mapping also rewrites letters and combining marks (U+0302 COMBINING CIRCUMFLEX to "^") and turns a
// no-break space into two spaces, which Relais does not do.
func Smart(text string) string {
	runes := []rune(norm.NFC.String(text))
	out := make([]byte, 0, len(text))
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch r {
		case '\u00ab': // « and the space French puts after it become one straight quote
			out = append(out, '"')
			for i+1 < len(runes) && isSpaceLike(runes[i+1]) {
				i++
			}
			continue
		case '\u00bb': // likewise the space before »
			for len(out) > 0 && out[len(out)-1] == ' ' {
				out = out[:len(out)-1]
			}
			out = append(out, '"')
			continue
		}
		if s, ok := smartMap[r]; ok {
			out = append(out, s...)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return string(out)
}

func isSpaceLike(r rune) bool { return r == ' ' || smartMap[r] == " " }

// smartMap is what Smart replaces. Keys are never letters or marks (a test checks it).
var smartMap = map[rune]string{
	// Double quotes and guillemets.
	'\u00ab': `"`, '\u00bb': `"`, '\u201c': `"`, '\u201d': `"`, '\u201e': `"`, '\u201f': `"`,
	'\u275d': `"`, '\u275e': `"`, '\u301d': `"`, '\u301e': `"`, '\uff02': `"`,
	// Single quotes, apostrophes, primes and accents standing alone.
	'\u2018': "'", '\u2019': "'", '\u201a': ",", '\u201b': "'", '\u2039': "<", '\u203a': ">",
	'\u00b4': "'", '\u0060': "'", '\u275b': "'", '\u275c': "'", '\uff07': "'",
	'\u02dc': "~",
	// Dashes, hyphens and bullets.
	'\u2010': "-", '\u2011': "-", '\u2012': "-", '\u2013': "-", '\u2014': "-", '\u2015': "-",
	'\u2043': "-", '\u2212': "-", '\ufe63': "-", '\uff0d': "-", '\u2022': "-", '\u2017': "_",
	// Ellipsis and other punctuation.
	'\u2026': "...", '\u203c': "!!", '\u00f7': "/", '\u2044': "/", '\u2215': "/",
	'\u00bc': "1/4", '\u00bd': "1/2", '\u00be': "3/4",
	'\uff01': "!", '\uff03': "#", '\uff04': "$", '\uff05': "%", '\uff06': "&", '\uff08': "(", '\uff09': ")",
	'\uff0a': "*", '\uff0b': "+", '\uff0c': ",", '\uff0e': ".", '\uff0f': "/", '\uff1a': ":", '\uff1b': ";",
	'\uff1c': "<", '\uff1d': "=", '\uff1e': ">", '\uff1f': "?", '\uff20': "@", '\uff3b': "[", '\uff3c': "\\",
	'\uff3d': "]", '\uff3e': "^", '\uff3f': "_", '\uff5b': "{", '\uff5c': "|", '\uff5d': "}", '\uff5e': "~",
	'\u3001': ",", '\u3002': ".",
	// Spaces: French typography puts a narrow no-break space before ; : ! ? and inside guillemets.
	'\u00a0': " ", '\u2000': " ", '\u2001': " ", '\u2002': " ", '\u2003': " ", '\u2004': " ", '\u2005': " ",
	'\u2006': " ", '\u2007': " ", '\u2008': " ", '\u2009': " ", '\u200a': " ", '\u202f': " ", '\u205f': " ",
	'\u3000': " ", '\u2028': "\n", '\u2029': "\n", '\t': " ",
	// Invisible characters.
	'\u200b': "", '\u200c': "", '\u2060': "", '\ufeff': "", '\u00ad': "",
}

// isLetterOrMark reports whether Smart must leave r alone.
func isLetterOrMark(r rune) bool { return unicode.IsLetter(r) || unicode.IsMark(r) }
