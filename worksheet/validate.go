package worksheet

import (
	"bytes"
	"fmt"
	"io"
	"strconv"

	relais "github.com/relais-edu/relais"
)

// MaxBytes is the largest worksheet Relais accepts: it goes to every family by email, where base64
// adds a third.
const MaxBytes = 2 << 20

// Validate checks a PDF uploaded by a teacher, of size bytes, read through r: within MaxBytes, a PDF
// header, an end-of-file marker, a startxref offset that points at a cross-reference table or stream,
// and no password. It returns a *relais.Error (EINVALID or ETOOLARGE) with a reason a teacher can act
// on, or an error from r.
func Validate(r io.ReaderAt, size int64) error {
	if size > MaxBytes {
		return relais.Errorf(relais.ETOOLARGE,
			"The worksheet is %s; the limit is %s. Please save it smaller (fewer or smaller pictures) and upload it again.",
			relais.HumanBytes(size), relais.HumanBytes(MaxBytes))
	}
	if size < int64(len("%PDF-1.0\n%%EOF")) {
		return notPDF()
	}

	head := make([]byte, min(size, 1024))
	if _, err := r.ReadAt(head, 0); err != nil && err != io.EOF {
		return fmt.Errorf("read worksheet: %w", err)
	}
	if !bytes.HasPrefix(head, []byte("%PDF-")) {
		return notPDF()
	}

	tailLen := min(size, 2048)
	tail := make([]byte, tailLen)
	if _, err := r.ReadAt(tail, size-tailLen); err != nil && err != io.EOF {
		return fmt.Errorf("read worksheet: %w", err)
	}
	if !bytes.Contains(tail, []byte("%%EOF")) {
		return incomplete()
	}

	// startxref gives the offset of the last cross-reference section; a PDF cut and patched, or
	// damaged, points somewhere else.
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return incomplete()
	}
	fields := bytes.Fields(tail[i+len("startxref"):])
	if len(fields) == 0 {
		return incomplete()
	}
	off, err := strconv.ParseInt(string(fields[0]), 10, 64)
	if err != nil || off <= 0 || off >= size {
		return incomplete()
	}
	xref := make([]byte, min(size-off, 4096))
	if _, err := r.ReadAt(xref, off); err != nil && err != io.EOF {
		return fmt.Errorf("read worksheet: %w", err)
	}
	if !bytes.HasPrefix(xref, []byte("xref")) && !isObjectStart(xref) {
		return incomplete()
	}

	// The trailer (classic) or the cross-reference stream's dictionary names an /Encrypt dictionary
	// when the file needs a password, which families could not type.
	if bytes.Contains(tail, []byte("/Encrypt")) || bytes.Contains(xref, []byte("/Encrypt")) {
		return relais.Errorf(relais.EINVALID,
			"The worksheet PDF is protected by a password. Please save it without protection and upload it again.")
	}
	return nil
}

// ValidateBytes is Validate for a worksheet held in memory.
func ValidateBytes(b []byte) error {
	return Validate(bytes.NewReader(b), int64(len(b)))
}

// isObjectStart reports whether b starts with "N G obj", the start of a cross-reference stream.
func isObjectStart(b []byte) bool {
	fields := bytes.Fields(b)
	if len(fields) < 3 {
		return false
	}
	if _, err := strconv.Atoi(string(fields[0])); err != nil {
		return false
	}
	if _, err := strconv.Atoi(string(fields[1])); err != nil {
		return false
	}
	return bytes.HasPrefix(fields[2], []byte("obj"))
}

func notPDF() error {
	return relais.Errorf(relais.EINVALID,
		"The worksheet is not a PDF file. Please export it as PDF (File > Save as > PDF) and upload it again.")
}

func incomplete() error {
	return relais.Errorf(relais.EINVALID,
		"The worksheet PDF is incomplete or damaged (the upload may have been cut off). Please upload it again.")
}
