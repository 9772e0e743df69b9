package lessons

import (
	"fmt"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

var fileTypes = map[string]string{".ts": "video/mp2t", ".mp2": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".m4a": "audio/mp4", ".pdf": "application/pdf"}

// ServeFile answers with a lesson's file (a rendition, a worksheet) and its content type, range
// requests included, for the API, the staff pages and the family page alike.
func ServeFile(w http.ResponseWriter, r *http.Request, path string) {
	if ct, ok := fileTypes[strings.ToLower(filepath.Ext(path))]; ok {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeFile(w, r, path)
}

// ServeAttachment answers with the file at path as a download named filename (letters, digits, dots and
// dashes), range requests included.
func ServeAttachment(w http.ResponseWriter, r *http.Request, path, contentType, filename string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	http.ServeContent(w, r, "", st.ModTime(), f)
	return nil
}

// Attachment marks an answer as a download named filename.
func Attachment(h http.Header, filename string) {
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
}
