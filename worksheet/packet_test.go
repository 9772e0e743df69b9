package worksheet

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	relais "github.com/relais-edu/relais"
)

// pdfText extracts the text of pages first..last (0: to the end), optionally only inside a box given
// in millimetres from the page's top left corner.
func pdfText(t *testing.T, path string, first, last int, box ...float64) string {
	t.Helper()
	args := []string{"-enc", "UTF-8", "-f", strconv.Itoa(first)}
	if last > 0 {
		args = append(args, "-l", strconv.Itoa(last))
	}
	if len(box) == 4 {
		pt := func(mm float64) string { return strconv.Itoa(int(mm * 72 / 25.4)) }
		args = append(args, "-r", "72", "-x", pt(box[0]), "-y", pt(box[1]), "-W", pt(box[2]), "-H", pt(box[3]))
	}
	out, err := exec.Command("pdftotext", append(args, path, "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

func pdfPages(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("pdfinfo", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("pdfinfo: no page count in\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func TestPacketsAddressInWindowAndWorksheetPerHousehold(t *testing.T) {
	ws, err := Render(Input{Title: "Les fractions", Subject: "Mathématiques", Grade: 5, Language: "fr",
		Markdown: "Élèves : lisez l’énoncé.\n\n1. Calculez ½ + ¼.\n"})
	if err != nil {
		t.Fatal(err)
	}
	airing := time.Date(2026, 11, 24, 10, 30, 0, 0, time.UTC)
	p, err := NewPackets(PacketsInput{Title: "Les fractions", Subject: "Mathématiques", Grade: 5,
		Sender: "Relais · Rectorat de Créteil · 4 rue Georges Enesco · 94000 Créteil", Worksheet: ws,
		Broadcasts: []Broadcast{{Station: "Télé Éducation", Kind: relais.StationTV, Start: airing}},
		Date:       time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	letters := []Letter{
		{Address: []string{"Famille Lefèvre-Noël", "12 rue de l’Église", "94000 Créteil"}, Language: "fr", Ref: "FR-001"},
		{Address: []string{"Семья Жанұзақова", "ул. Абая, д. 15, кв. 3", "050000 Алматы", "Қазақстан"}, Language: "kk", Ref: "KZ-002"},
		{Address: []string{"Семья Иванова", "ул. Пушкина, д. 7", "010000 Астана"}, Language: "ru", Ref: "KZ-003"},
	}
	var firsts []int
	for _, l := range letters {
		first, err := p.Add(l)
		if err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, first)
	}
	if p.PagesPerPacket()%2 != 0 {
		t.Errorf("%d pages per packet: a packet must fill whole sheets", p.PagesPerPacket())
	}
	per := p.PagesPerPacket()
	if want := []int{1, 1 + per, 1 + 2*per}; !equalInts(firsts, want) {
		t.Errorf("first pages %v, want %v", firsts, want)
	}
	path := filepath.Join(t.TempDir(), "batch.pdf")
	var buf bytes.Buffer
	n, err := p.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := pdfPages(t, path); got != 3*per {
		t.Errorf("%d pages, want %d", got, 3*per)
	}

	for i, l := range letters {
		// The address field of DIN 5008 form B: 20 mm from the left, 50 to 90 mm from the top.
		window := squash(pdfText(t, path, firsts[i], firsts[i], 20, 49, 85, 41))
		if want := strings.Join(l.Address, " "); window != want {
			t.Errorf("letter %d window shows %q, want %q", i, window, want)
		}
		letter := squash(pdfText(t, path, firsts[i], firsts[i]))
		lb := labelsFor(l.Language)
		for _, s := range []string{"Les fractions", lb.Subject + ": Mathématiques", l.Ref, "23.11.2026",
			lb.Greeting, strings.Join(strings.Fields(lb.Body)[:4], " "), "2026-11-24 10:30 Télé Éducation"} {
			if !strings.Contains(letter, s) {
				t.Errorf("letter %d lacks %q:\n%s", i, s, letter)
			}
		}
		// The worksheet follows the letter.
		sheet := squash(pdfText(t, path, firsts[i]+1, firsts[i]+1))
		if !strings.Contains(sheet, "Élèves : lisez l’énoncé.") || !strings.Contains(sheet, "1. Calculez ½ + ¼.") {
			t.Errorf("packet %d worksheet page:\n%s", i, sheet)
		}
	}
	// The return address is above the address, inside the window too.
	if top := squash(pdfText(t, path, 1, 1, 20, 44, 85, 6)); !strings.Contains(top, "Relais · Rectorat de Créteil") {
		t.Errorf("return address line %q", top)
	}
	// The worksheet is stored once, not once per household: three packets cost little more than one.
	one, err := NewPackets(PacketsInput{Title: "Les fractions", Worksheet: ws})
	if err != nil {
		t.Fatal(err)
	}
	one.Add(letters[0])
	var oneBuf bytes.Buffer
	if _, err := one.WriteTo(&oneBuf); err != nil {
		t.Fatal(err)
	}
	if extra := buf.Len() - oneBuf.Len(); extra > 2*len(ws) {
		t.Errorf("two more packets added %d bytes; the worksheet is %d bytes", extra, len(ws))
	}
}

func TestPacketsRefuseBadWorksheet(t *testing.T) {
	for name, ws := range map[string][]byte{"empty": nil, "text": []byte("not a pdf at all")} {
		if _, err := NewPackets(PacketsInput{Title: "T", Worksheet: ws}); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("%s worksheet: err = %v, want invalid", name, err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
