package worksheet

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	relais "github.com/relais-edu/relais"
)

// xrefStreamPDF returns a minimal PDF 1.5 whose cross-reference section is a stream object, as
// LibreOffice and Word write them; trailerExtra goes into that stream's dictionary.
func xrefStreamPDF(trailerExtra string) []byte { return buildPDF(-1, trailerExtra) }

// paddedPDF is xrefStreamPDF with a stream object of filler making the file total bytes long.
func paddedPDF(total int, trailerExtra string) []byte {
	b := buildPDF(0, trailerExtra)
	n := total - len(b)
	for {
		b = buildPDF(n, trailerExtra)
		if len(b) == total {
			return b
		}
		n += total - len(b)
	}
}

// buildPDF writes the PDF; a filler stream of n bytes when n >= 0.
func buildPDF(n int, trailerExtra string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	b.WriteString("2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	if n >= 0 {
		fmt.Fprintf(&b, "4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", n, bytes.Repeat([]byte{'x'}, max(n, 0)))
	}
	off := b.Len()
	fmt.Fprintf(&b, "3 0 obj\n<< /Type /XRef /Size 4 /Root 1 0 R%s /Length 0 >>\nstream\n\nendstream\nendobj\n", trailerExtra)
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", off)
	return b.Bytes()
}

func TestValidate(t *testing.T) {
	good, err := Render(Input{Title: "Fractions", Language: "en", Markdown: "1. one\n"})
	if err != nil {
		t.Fatal(err)
	}
	// Some writers leave bytes (a newline, NULs) after %%EOF.
	trailingJunk := append(append([]byte{}, good...), "\r\n\x00\x00"...)
	// A PDF cut inside its body, then the last bytes of a real one appended: the marker is there but
	// startxref points into nothing.
	patched := append(append([]byte{}, good[:len(good)/2]...), good[len(good)-40:]...)
	// startxref pointing at the wrong place.
	i := bytes.LastIndex(good, []byte("startxref"))
	wrongXref := append(append([]byte{}, good[:i]...), []byte("startxref\n15\n%%EOF\n")...)

	tests := []struct {
		name     string
		data     []byte
		wantCode string
		wantMsg  string // a fragment of the message
	}{
		{name: "generated worksheet", data: good},
		{name: "xref stream", data: xrefStreamPDF("")},
		{name: "bytes after EOF marker", data: trailingJunk},
		{name: "empty", data: nil, wantCode: relais.EINVALID, wantMsg: "not a PDF"},
		{name: "text file", data: []byte(strings.Repeat("Exercise 1: compute 1/2 + 1/4.\n", 20)), wantCode: relais.EINVALID, wantMsg: "not a PDF"},
		{name: "png", data: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 200)...), wantCode: relais.EINVALID, wantMsg: "not a PDF"},
		{name: "truncated", data: good[:len(good)*2/3], wantCode: relais.EINVALID, wantMsg: "incomplete"},
		{name: "truncated just before EOF marker", data: good[:len(good)-7], wantCode: relais.EINVALID, wantMsg: "incomplete"},
		{name: "end patched on", data: patched, wantCode: relais.EINVALID, wantMsg: "incomplete"},
		{name: "startxref elsewhere", data: wrongXref, wantCode: relais.EINVALID, wantMsg: "incomplete"},
		{name: "password protected", data: xrefStreamPDF(" /Encrypt 9 0 R"), wantCode: relais.EINVALID, wantMsg: "password"},
		{name: "too large", data: paddedPDF(MaxBytes+1, ""), wantCode: relais.ETOOLARGE, wantMsg: "is 2.0 MiB; the limit is 2.0 MiB"},
		{name: "exactly at the cap", data: paddedPDF(MaxBytes, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(bytes.NewReader(tt.data), int64(len(tt.data)))
			if got := relais.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if tt.wantMsg != "" && !strings.Contains(relais.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message %q lacks %q", relais.ErrorMessage(err), tt.wantMsg)
			}
		})
	}
}

func TestPaddedPDFSize(t *testing.T) {
	for _, n := range []int{MaxBytes, MaxBytes + 1} {
		if got := len(paddedPDF(n, "")); got != n {
			t.Fatalf("paddedPDF(%d) is %d bytes", n, got)
		}
	}
}

// TestValidateOtherWriters checks PDFs written by cairo and by poppler's pdfunite (another layout of
// objects and cross-references than fpdf's), whole and cut.
func TestValidateOtherWriters(t *testing.T) {
	good, err := Render(Input{Title: "Дроби", Language: "ru", Markdown: "1. один\n"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src.pdf")
	if err := os.WriteFile(src, good, 0o600); err != nil {
		t.Fatal(err)
	}
	cairo, unite := filepath.Join(dir, "cairo.pdf"), filepath.Join(dir, "unite.pdf")
	for _, cmd := range [][]string{{"pdftocairo", "-pdf", src, cairo}, {"pdfunite", src, src, unite}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s (install poppler-utils)", cmd, err, out)
		}
	}
	for _, path := range []string{cairo, unite} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateBytes(b); err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
		}
		if err := ValidateBytes(b[:len(b)-len(b)/3]); relais.ErrorCode(err) != relais.EINVALID {
			t.Errorf("%s cut: %v, want EINVALID", filepath.Base(path), err)
		}
	}
}
