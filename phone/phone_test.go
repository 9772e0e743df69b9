package phone

import (
	"flag"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

var phoneCorpus = flag.Int("phonecorpus", 1, "multiplies the generated phone numbers TestFastPhone compares")

// TestFastPhone compares fastPhone with phonenumbers (slowPhone) on every number the fast path takes, from
// a corpus generated with a fixed seed: every region's example numbers written with +, in national form
// and with the national prefix, with separators, a digit changed, added or removed; random strings of
// digits; and the numbers of the package's other tests. The default regions are the countries Relais
// is deployed in and a spread of numbering plans (shared calling codes, national prefixes with
// patterns and transform rules, Italian leading zeros), each given an eighth of the corpus beyond the
// first three. The fast path must give the same E.164 form
// and the same verdict, and take the common forms.
// corpus is the numbers TestFastPhone and TestRegion compare with phonenumbers.
func corpus(t *testing.T) []string {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(14, 2026))
	seps := []string{"", "", "", " ", ".", "-"}
	write := func(digits string) string { // digits with a separator here and there
		var b strings.Builder
		for i := range len(digits) {
			if i > 0 && rng.IntN(3) == 0 {
				b.WriteString(seps[rng.IntN(len(seps))])
			}
			b.WriteByte(digits[i])
		}
		return b.String()
	}
	mutate := func(digits string) []string {
		out := []string{digits}
		if len(digits) > 1 {
			i := rng.IntN(len(digits))
			out = append(out, digits[:i]+strconv.Itoa(rng.IntN(10))+digits[i+1:], digits[:len(digits)-1],
				digits[:i]+digits[i+1:])
		}
		return append(out, digits+strconv.Itoa(rng.IntN(10)))
	}
	var numbers []string
	for range *phoneCorpus {
		for _, md := range coll.GetMetadata() {
			cc := strconv.Itoa(int(md.GetCountryCode()))
			for _, d := range []*phonenumbers.PhoneNumberDesc{md.GetGeneralDesc(), md.GetFixedLine(), md.GetMobile(),
				md.GetTollFree(), md.GetPremiumRate(), md.GetSharedCost(), md.GetPersonalNumber(), md.GetVoip(),
				md.GetPager(), md.GetUan(), md.GetVoicemail()} {
				ex := d.GetExampleNumber()
				if ex == "" {
					continue
				}
				for _, n := range mutate(ex) {
					numbers = append(numbers, "+"+cc+n, n, md.GetNationalPrefix()+n, "+"+cc+md.GetNationalPrefix()+n,
						"+"+write(cc+n), write(md.GetNationalPrefix()+n), cc+n, "00"+cc+n, "8"+n)
				}
			}
		}
		for range 10_000 {
			var b strings.Builder
			if rng.IntN(2) == 0 {
				b.WriteByte('+')
			}
			for range 3 + rng.IntN(16) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
			numbers = append(numbers, b.String(), write(b.String()))
		}
	}
	numbers = append(numbers, "0612", "+33 1 42 68 53 00", "+77012345678", "+33612345679", "abc", "0612345678",
		"06 12 34 56 78", "06.12.34.56.78", "+33 (0)6 12 34 56 78", "+33612345678 ext 5", "tel:+33612345678",
		"+33  612345678", "+33 6-12", "+", "++33612345678", "00", "123", "+0033612345678", "+99912345678")
	for i := range 1000 {
		numbers = append(numbers, "+336"+fmtDigits(i, 8), "+331"+fmtDigits(i, 8))
	}
	return numbers
}

func TestFastPhone(t *testing.T) {
	numbers := corpus(t)
	regions := []string{"FR", "KZ", "RU", "UZ", "KG", "SN", "CI", "MA", "BE", "CH", "US", "CA", "GB", "JE", "DE",
		"IT", "VA", "BR", "AR", "MX", "IN", "CN", "AU", "NZ", "ZA", "NG", "fr", "kz", "XX", ""}
	fast, total := 0, 0
	for r, region := range regions {
		for i, n := range numbers {
			if r >= 3 && i%8 != r%8 {
				continue // the other regions compare an eighth of the corpus each (-phonecorpus for more)
			}
			total++
			e164, verdict, ok := fastPhone(n, region)
			if !ok {
				continue
			}
			fast++
			want, wantVerdict := slowPhone(n, region)
			if e164 != want || verdict != wantVerdict {
				t.Errorf("fastPhone(%q, %q) = %q, %d; phonenumbers: %q, %d", n, region, e164, verdict, want, wantVerdict)
			}
		}
	}
	t.Logf("%d of %d numbers compared on the fast path", fast, total)
	if fast < total/2 {
		t.Errorf("the fast path took %d of %d numbers, want at least half", fast, total)
	}
	for _, c := range []struct{ number, region string }{{"+33612345678", "FR"}, {"06 12 34 56 78", "FR"},
		{"0612345678", "FR"}, {"+33 1 42 68 53 00", "FR"}, {"+77012345678", "KZ"}, {"87012345678", "KZ"},
		{"+77012345678", "FR"}, {"+12125550123", "FR"}, {"07400 123456", "GB"}} {
		if _, _, ok := fastPhone(c.number, c.region); !ok {
			t.Errorf("fastPhone(%q, %q) left to phonenumbers, want the fast path", c.number, c.region)
		}
	}
}

func fmtDigits(n, width int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", width-len(s)) + s
}

// TestRegion compares Region with phonenumbers (Parse, IsValidNumber, GetRegionCodeForNumber) on every
// string of TestFastPhone's corpus, and requires the fast path to take the E.164 numbers of the common
// shapes.
func TestRegion(t *testing.T) {
	e164 := regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	fast, total := 0, 0
	for _, n := range corpus(t) {
		want := ""
		if e164.MatchString(n) {
			total++
			if num, err := phonenumbers.Parse(n, ""); err == nil && phonenumbers.IsValidNumber(num) {
				want = phonenumbers.GetRegionCodeForNumber(num)
			}
			if cc, nsn, _, ok := fastParse(n, ""); ok {
				if _, _, ok := phoneRegions.numberType(cc, nsn); ok {
					fast++
				}
			}
		}
		if got := Region(n); got != want {
			t.Errorf("Region(%q) = %q; phonenumbers: %q", n, got, want)
		}
	}
	t.Logf("%d of %d E.164 numbers on the fast path", fast, total)
	if fast < total*9/10 {
		t.Errorf("the fast path took %d of %d E.164 numbers, want at least nine in ten", fast, total)
	}
	for _, c := range []struct{ number, region string }{{"+33612345678", "FR"}, {"+77012345678", "KZ"},
		{"+79123456789", "RU"}, {"+12125550123", "US"}, {"+14165550123", "CA"}, {"+447400123456", "GB"},
		{"+447797123456", "JE"}, {"+80012345678", "001"}, {"+3361234567", ""}, {"33612345678", ""}} {
		if got := Region(c.number); got != c.region {
			t.Errorf("Region(%q) = %q, want %q", c.number, got, c.region)
		}
	}
}

// BenchmarkRegion reads the region of a French and a Kazakh mobile number (the second of a calling code
// shared with Russia), with Region and with phonenumbers.
func BenchmarkRegion(b *testing.B) {
	for _, n := range []string{"+33612345678", "+77012345678"} {
		b.Run("fast/"+n, func(b *testing.B) {
			for range b.N {
				if Region(n) == "" {
					b.Fatal(n)
				}
			}
		})
		b.Run("phonenumbers/"+n, func(b *testing.B) {
			for range b.N {
				num, err := phonenumbers.Parse(n, "")
				if err != nil || !phonenumbers.IsValidNumber(num) || phonenumbers.GetRegionCodeForNumber(num) == "" {
					b.Fatal(n)
				}
			}
		})
	}
}

// TestCompileDigits compares the automaton with regexp, for full and prefix matches, on patterns of
// the constructs the metadata uses and on every pattern of the metadata, over every string of up to
// four digits and random longer ones.
func TestCompileDigits(t *testing.T) {
	patterns := []string{`(?:6(?:[0-24-8]\d|3[0-8]|9[589])|7[3-9]\d)\d{6}`, `0|180020`, `\d{2,4}`, `8(?:10)?`, ``,
		`(?:0|90)(?:(1[245]|2[1-35]|31|4[13]|[56]5|99)(\d{10,11}))?`, `8~10`, `[^0]\d`, `.\d`}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		t.Fatal(err)
	}
	for _, md := range coll.GetMetadata() {
		patterns = append(patterns, md.GetGeneralDesc().GetNationalNumberPattern(), md.GetMobile().GetNationalNumberPattern(),
			md.GetFixedLine().GetNationalNumberPattern(), md.GetInternationalPrefix(), md.GetNationalPrefixForParsing(),
			md.GetLeadingDigits())
	}
	inputs := []string{""}
	for n := 1; n <= 4; n++ {
		for i := range pow10(n) {
			inputs = append(inputs, fmtDigits(i, n))
		}
	}
	rng := rand.New(rand.NewPCG(14, 1))
	for range 300 {
		w := 5 + rng.IntN(5)
		inputs = append(inputs, fmtDigits(rng.IntN(pow10(w)), w))
	}
	for _, p := range patterns {
		d, err := compileDigits(p)
		if err != nil {
			if !strings.ContainsAny(p, "^$") {
				t.Errorf("%q: %v", p, err)
			}
			continue // an assertion: left to regexp
		}
		full, prefix := regexp.MustCompile(`^(?:`+p+`)$`), regexp.MustCompile(`^(?:`+p+`)`)
		for _, in := range inputs {
			if got, want := d.full(in), full.MatchString(in); got != want {
				t.Fatalf("%q full(%q) = %v, regexp says %v", p, in, got, want)
			}
			if got, want := d.prefix(in), prefix.MatchString(in); got != want {
				t.Fatalf("%q prefix(%q) = %v, regexp says %v", p, in, got, want)
			}
		}
	}
	if _, err := compileDigits(`^1$`); err == nil {
		t.Error("a pattern with assertions compiled")
	}
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// BenchmarkPhone reads a French mobile number in E.164 and in national form.
func BenchmarkPhone(b *testing.B) {
	for _, n := range []string{"+33612345678", "06 12 34 56 78"} {
		b.Run("fast/"+n, func(b *testing.B) {
			for range b.N {
				if _, problem := Normalize(n, "FR"); problem != nil {
					b.Fatal(problem)
				}
			}
		})
		b.Run("phonenumbers/"+n, func(b *testing.B) {
			for range b.N {
				if _, v := slowPhone(n, "FR"); v != phoneMobile {
					b.Fatal(v)
				}
			}
		})
	}
}
