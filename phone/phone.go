// Package phone reads phone numbers as libphonenumber (github.com/nyaruka/phonenumbers) does, fast:
// the metadata's patterns are compiled to automata over digits, and a number of the common forms is
// read by following phonenumbers step by step on them, phonenumbers itself reading the others. The
// household import normalizes every phone with it (Normalize), and the fan-out picks each family's
// SMS sender by the region of its phone (Region): both read a million numbers in a national morning.
package phone

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"

	relais "github.com/relais-edu/relais"
)

// phoneVerdict is what the import makes of a phone number.
type phoneVerdict uint8

const (
	phoneMobile     phoneVerdict = iota // can receive SMS: stored in E.164 form
	phoneUnreadable                     // phonenumbers cannot parse it
	phoneInvalid                        // parsed, but valid in no region (type UNKNOWN)
	phoneLandline                       // a fixed line
)

// Normalize returns a mobile-capable number in E.164 form, numbers without + read as numbers of
// defaultCountry (an ISO 3166-1 code), or an EINVALID error a clerk can act on.
func Normalize(raw, defaultCountry string) (string, *relais.Error) {
	e164, verdict, ok := fastPhone(raw, defaultCountry)
	if !ok {
		e164, verdict = slowPhone(raw, defaultCountry)
	}
	switch verdict {
	case phoneUnreadable:
		return "", relais.Errorf(relais.EINVALID, "phone %q cannot be read as a phone number (write it as +33612345678)", raw)
	case phoneInvalid:
		return "", relais.Errorf(relais.EINVALID, "phone %q is not a valid phone number (numbers without + are read as %s numbers)",
			raw, strings.ToUpper(defaultCountry))
	case phoneLandline:
		return "", relais.Errorf(relais.EINVALID, "phone %q is a landline and cannot receive SMS", raw)
	}
	return e164, nil
}

// slowPhone asks phonenumbers, for any number.
func slowPhone(raw, defaultCountry string) (string, phoneVerdict) {
	num, err := phonenumbers.Parse(raw, strings.ToUpper(defaultCountry))
	if err != nil {
		return "", phoneUnreadable
	}
	// The number's type is UNKNOWN exactly when IsValidNumber is false: one look-up answers both, where
	// asking both matched the number against its region's patterns twice.
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.UNKNOWN:
		return "", phoneInvalid
	case phonenumbers.FIXED_LINE:
		return "", phoneLandline
	}
	return phonenumbers.Format(num, phonenumbers.E164), phoneMobile
}

// fastPhone gives slowPhone's answer for the numbers a roster is made of — "+" and digits (E.164), or
// digits in the default region's national form, with spaces, dots or dashes between digits — by
// following phonenumbers.Parse and GetNumberType step by step on that shape, the metadata's patterns
// matched by digitDFA instead of regexp. ok is false for anything else (letters, extensions, an
// international prefix such as 00, a national number starting with the country code, a national
// prefix that rewrites the number, a pattern the automaton cannot hold): slowPhone answers those.
// TestFastPhone compares both on a large generated corpus.
func fastPhone(raw, defaultCountry string) (e164 string, verdict phoneVerdict, ok bool) {
	cc, nsn, readable, ok := fastParse(raw, defaultCountry)
	if !ok {
		return "", 0, false
	}
	if !readable {
		return "", phoneUnreadable, true
	}
	_, typ, ok := phoneRegions.numberType(cc, nsn)
	if !ok {
		return "", 0, false
	}
	switch typ {
	case phonenumbers.UNKNOWN:
		return "", phoneInvalid, true
	case phonenumbers.FIXED_LINE:
		return "", phoneLandline, true
	}
	ccs := strconv.Itoa(cc)
	if len(raw) == 1+len(ccs)+len(nsn) && raw[0] == '+' && raw[1:1+len(ccs)] == ccs && raw[1+len(ccs):] == nsn {
		return raw, phoneMobile, true
	}
	return "+" + ccs + nsn, phoneMobile, true
}

// fastParse is phonenumbers.Parse on the shapes fastPhone takes: the number's calling code and national
// significant number, readable false where Parse fails (too short or too long), ok false where the fast
// path does not follow Parse.
func fastParse(raw, defaultCountry string) (cc int, nsn string, readable, ok bool) {
	var buf [24]byte
	digits, plus, ok := phoneDigits(raw, buf[:0])
	if !ok {
		return 0, "", false, false
	}
	var md *phoneMeta
	// The national number: raw's own digits when raw has no separator.
	if rest := strings.TrimPrefix(raw, "+"); len(rest) == len(digits) {
		nsn = rest
	} else {
		nsn = string(digits)
	}
	if plus {
		// maybeExtractCountryCode: the first one to three digits that are a calling code.
		if nsn[0] == '0' {
			return 0, "", false, false // phonenumbers tries again without the +
		}
		for i := 1; i <= 3; i++ {
			if c, _ := strconv.Atoi(nsn[:i]); len(phonenumbers.GetRegionCodesForCountryCode(c)) > 0 {
				cc, nsn = c, nsn[i:]
				break
			}
		}
		if cc == 0 {
			return 0, "", false, false
		}
		if md = phoneRegions.main(cc); md == nil || !md.parseOK {
			return 0, "", false, false
		}
	} else {
		// No + : neither an international prefix nor the region's own calling code may start it.
		def := phoneRegions.region(defaultCountry)
		if def == nil || !def.parseOK || def.idd.prefix(nsn) || strings.HasPrefix(nsn, def.ccDigits) {
			return 0, "", false, false
		}
		cc, md = def.cc, def
	}
	if len(nsn) < phonenumbers.MIN_LENGTH_FOR_NSN {
		return cc, "", false, true
	}
	if md.npp != nil && md.npp.prefix(nsn) {
		stripped, ok := md.stripNationalPrefix(nsn)
		if !ok {
			return 0, "", false, false
		}
		switch md.testLength(stripped) {
		case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
		default:
			nsn = stripped
		}
	}
	if len(nsn) < phonenumbers.MIN_LENGTH_FOR_NSN || len(nsn) > phonenumbers.MAX_LENGTH_FOR_NSN {
		return cc, "", false, true
	}
	// The national number holds digits only and at most 17 of them: phonenumbers' round trip through a
	// uint64 and its Italian leading zeros give these same digits back.
	return cc, nsn, true, true
}

// IsE164 reports whether s is a phone number in E.164 form: +, then 7 to 15 digits, the first not 0.
func IsE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Region returns the region of a valid phone number in E.164 form (an ISO 3166-1 code, "001" for a
// non-geographic calling code), as phonenumbers.GetRegionCodeForNumber gives it once Parse and
// IsValidNumber accepted the number, and "" for anything else: a number not in E.164 form (IsE164) or
// valid in no region. TestRegion compares it with phonenumbers.
func Region(e164 string) string {
	if !IsE164(e164) {
		return ""
	}
	if cc, nsn, readable, ok := fastParse(e164, ""); ok {
		if !readable {
			return ""
		}
		if region, typ, ok := phoneRegions.numberType(cc, nsn); ok {
			if typ == phonenumbers.UNKNOWN {
				return ""
			}
			return region
		}
	}
	num, err := phonenumbers.Parse(e164, "")
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(num)
}

// phoneDigits reads raw as an optional leading + then ASCII digits, a space, dot or dash allowed between
// two digits, and appends its digits to buf; 3 to 20 digits.
func phoneDigits(raw string, buf []byte) (digits []byte, plus, ok bool) {
	s := raw
	if strings.HasPrefix(s, "+") {
		plus, s = true, s[1:]
	}
	if s == "" || s[0] < '0' || s[0] > '9' || s[len(s)-1] < '0' || s[len(s)-1] > '9' {
		return nil, false, false
	}
	sep := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if len(buf) == 20 {
				return nil, false, false
			}
			buf, sep = append(buf, c), false
		case c == ' ' || c == '.' || c == '-':
			if sep {
				return nil, false, false
			}
			sep = true
		default:
			return nil, false, false
		}
	}
	return buf, plus, len(buf) >= 3
}

// phoneMeta is one region's metadata (or one non-geographic calling code's) with its patterns compiled.
type phoneMeta struct {
	md       *phonenumbers.PhoneMetadata
	cc       int
	ccDigits string
	ok       bool // while compiling: every pattern so far compiled
	typesOK  bool // the descriptions and leading digits compiled: numberType may use this metadata
	parseOK  bool // the international and national prefixes compiled too: a number may be parsed with it

	general digitDesc
	special [8]digitDesc // premium rate, toll free, shared cost, VoIP, personal, pager, UAN, voicemail: getNumberTypeHelper's order
	fixed   digitDesc
	mobile  digitDesc
	same    bool // SameMobileAndFixedLinePattern

	leading    *digitDFA      // the region's leading digits (for a shared calling code), nil if none
	idd        *digitDFA      // international prefix
	npp        *digitDFA      // national prefix for parsing, nil if none
	nppLiteral string         // npp when it is a plain string of digits
	nppRegexp  *regexp.Regexp // ^(?:npp) otherwise, as phonenumbers compiles it
}

// digitDesc is a PhoneNumberDesc: its possible lengths and its pattern.
type digitDesc struct {
	lengths []int32
	dfa     *digitDFA
}

// matches is phonenumbers' isNumberMatchingDesc.
func (d *digitDesc) matches(nsn string) bool {
	if len(d.lengths) > 0 && !slices.Contains(d.lengths, int32(len(nsn))) {
		return false
	}
	return d.dfa.full(nsn)
}

func newPhoneMeta(md *phonenumbers.PhoneMetadata) *phoneMeta {
	m := &phoneMeta{md: md, cc: int(md.GetCountryCode()), ok: true, same: md.GetSameMobileAndFixedLinePattern()}
	m.ccDigits = strconv.Itoa(m.cc)
	compile := func(pattern string) *digitDFA {
		d, err := compileDigits(pattern)
		if err != nil {
			m.ok = false
		}
		return d
	}
	desc := func(d *phonenumbers.PhoneNumberDesc) digitDesc {
		return digitDesc{lengths: d.GetPossibleLength(), dfa: compile(d.GetNationalNumberPattern())}
	}
	m.general = desc(md.GetGeneralDesc())
	for i, d := range []*phonenumbers.PhoneNumberDesc{md.GetPremiumRate(), md.GetTollFree(), md.GetSharedCost(),
		md.GetVoip(), md.GetPersonalNumber(), md.GetPager(), md.GetUan(), md.GetVoicemail()} {
		m.special[i] = desc(d)
	}
	m.fixed, m.mobile = desc(md.GetFixedLine()), desc(md.GetMobile())
	if ld := md.GetLeadingDigits(); ld != "" {
		m.leading = compile(ld)
	}
	typesOK := m.ok
	m.idd = compile(md.GetInternationalPrefix())
	if npp := md.GetNationalPrefixForParsing(); npp != "" {
		m.npp = compile(npp)
		if re, err := syntax.Parse(npp, syntax.Perl); err == nil && re.Simplify().Op == syntax.OpLiteral &&
			re.Flags&syntax.FoldCase == 0 {
			m.nppLiteral = string(re.Simplify().Rune)
		} else {
			m.nppRegexp = regexp.MustCompile("^(?:" + npp + ")")
		}
	}
	m.typesOK, m.parseOK = typesOK, m.ok
	return m
}

// stripNationalPrefix is maybeStripNationalPrefixAndCarrierCode once the national prefix matched the
// start of nsn; ok is false where a transform rule rewrites the number (left to phonenumbers).
func (m *phoneMeta) stripNationalPrefix(nsn string) (string, bool) {
	end := len(m.nppLiteral)
	if m.nppRegexp != nil {
		groups := m.nppRegexp.FindStringSubmatchIndex(nsn)
		if m.md.GetNationalPrefixTransformRule() != "" && groups[len(groups)-2] >= 0 {
			return "", false
		}
		end = groups[1]
	} else if m.md.GetNationalPrefixTransformRule() != "" {
		return "", false
	}
	if m.general.dfa.full(nsn) && !m.general.dfa.full(nsn[end:]) {
		return nsn, true
	}
	return nsn[end:], true
}

// testLength is testNumberLength for the type UNKNOWN (the general description).
func (m *phoneMeta) testLength(nsn string) phonenumbers.ValidationResult {
	lengths := m.md.GetGeneralDesc().GetPossibleLength()
	if len(lengths) == 0 || lengths[0] == -1 {
		return phonenumbers.INVALID_LENGTH
	}
	n := int32(len(nsn))
	if slices.Contains(m.md.GetGeneralDesc().GetPossibleLengthLocalOnly(), n) {
		return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
	}
	switch {
	case lengths[0] == n:
		return phonenumbers.IS_POSSIBLE
	case lengths[0] > n:
		return phonenumbers.TOO_SHORT
	case lengths[len(lengths)-1] < n:
		return phonenumbers.TOO_LONG
	case slices.Contains(lengths[1:], n):
		return phonenumbers.IS_POSSIBLE
	}
	return phonenumbers.INVALID_LENGTH
}

// numberType is getNumberTypeHelper.
func (m *phoneMeta) numberType(nsn string) phonenumbers.PhoneNumberType {
	if !m.general.matches(nsn) {
		return phonenumbers.UNKNOWN
	}
	for i, t := range []phonenumbers.PhoneNumberType{phonenumbers.PREMIUM_RATE, phonenumbers.TOLL_FREE,
		phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER, phonenumbers.PAGER,
		phonenumbers.UAN, phonenumbers.VOICEMAIL} {
		if m.special[i].matches(nsn) {
			return t
		}
	}
	if m.fixed.matches(nsn) {
		if m.same || m.mobile.matches(nsn) {
			return phonenumbers.FIXED_LINE_OR_MOBILE
		}
		return phonenumbers.FIXED_LINE
	}
	if !m.same && m.mobile.matches(nsn) {
		return phonenumbers.MOBILE
	}
	return phonenumbers.UNKNOWN
}

// phoneTables holds the compiled metadata, built on first use per region and per calling code.
type phoneTables struct {
	mu      sync.Mutex
	regions sync.Map // region code ("FR", "001/800" for a non-geographic calling code) -> *phoneMeta (nil: none)
	byID    map[string]*phonenumbers.PhoneMetadata
}

var phoneRegions phoneTables

// region is the metadata of a region code as phonenumbers' getMetadataForRegion finds it, nil if none.
func (t *phoneTables) region(code string) *phoneMeta {
	if len(code) != 2 || code[0] > 'Z' || code[1] > 'Z' {
		code = strings.ToUpper(code)
	}
	if m, ok := t.regions.Load(code); ok {
		return m.(*phoneMeta)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if m, ok := t.regions.Load(code); ok {
		return m.(*phoneMeta)
	}
	if t.byID == nil {
		t.byID = map[string]*phonenumbers.PhoneMetadata{}
		coll, err := phonenumbers.MetadataCollection()
		if err == nil {
			for _, md := range coll.GetMetadata() {
				id := md.GetId()
				if id == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
					id += "/" + strconv.Itoa(int(md.GetCountryCode()))
				}
				t.byID[id] = md
			}
		}
	}
	var m *phoneMeta
	if md := t.byID[code]; md != nil && (strings.Contains(code, "/") || phonenumbers.GetSupportedRegions()[code]) {
		m = newPhoneMeta(md)
	}
	t.regions.Store(code, m)
	return m
}

// of is getMetadataForRegionOrCallingCode.
func (t *phoneTables) of(cc int, region string) *phoneMeta {
	if region == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		return t.region(region + "/" + strconv.Itoa(cc))
	}
	return t.region(region)
}

// main is the metadata a number with calling code cc is parsed with: its main region's.
func (t *phoneTables) main(cc int) *phoneMeta {
	return t.of(cc, phonenumbers.GetRegionCodeForCountryCode(cc))
}

// numberType is GetRegionCodeForNumber and GetNumberType for a number of calling code cc; ok is false
// when a region's metadata could not be compiled.
func (t *phoneTables) numberType(cc int, nsn string) (region string, typ phonenumbers.PhoneNumberType, ok bool) {
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	switch len(regions) {
	case 0:
	case 1:
		region = regions[0]
	default: // getRegionCodeForNumberFromRegionList
		for _, r := range regions {
			m := t.region(r)
			if m == nil || !m.typesOK {
				return "", 0, false
			}
			if m.leading != nil {
				if m.leading.prefix(nsn) {
					region = r
					break
				}
			} else if m.numberType(nsn) != phonenumbers.UNKNOWN {
				region = r
				break
			}
		}
	}
	if region == "" {
		return "", phonenumbers.UNKNOWN, true
	}
	m := t.of(cc, region)
	if m == nil {
		return region, phonenumbers.UNKNOWN, true
	}
	if !m.typesOK {
		return "", 0, false
	}
	return region, m.numberType(nsn), true
}
