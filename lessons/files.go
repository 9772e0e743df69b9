package lessons

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
)

var fileTypes = map[string]string{".ts": "video/mp2t", ".mp2": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg",
	".wav": "audio/wav", ".m4a": "audio/mp4", ".pdf": "application/pdf"}

// Media is the store the service keeps uploads in and serves files from.
func (s *Service) Media() relais.MediaStore { return s.media }

// ServeFile answers with a lesson's file (a rendition, a worksheet) at loc in the media store and its
// content type, range requests included, for the API, the staff pages and the family page alike. With
// Config.MediaLinkTTL set and object storage that presigns, it redirects to the object instead.
func (s *Service) ServeFile(w http.ResponseWriter, r *http.Request, loc string) error {
	ct := fileTypes[strings.ToLower(filepath.Ext(loc))]
	return s.serve(w, r, loc, ct, "")
}

// ServeAttachment answers with the file at loc as a download named filename (letters, digits, dots
// and dashes), range requests included.
func (s *Service) ServeAttachment(w http.ResponseWriter, r *http.Request, loc, contentType, filename string) error {
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	return s.serve(w, r, loc, contentType, filename)
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request, loc, contentType, filename string) error {
	if linker, ok := s.media.(relais.MediaLinker); ok && s.cfg.MediaLinkTTL > 0 {
		u, err := linker.MediaURL(r.Context(), loc, s.cfg.MediaLinkTTL, contentType, filename)
		if err != nil {
			return err
		}
		w.Header().Del("Content-Disposition")
		w.Header().Set("Cache-Control", "private, max-age="+fmt.Sprint(int((s.cfg.MediaLinkTTL-time.Minute).Seconds())))
		http.Redirect(w, r, u, http.StatusFound)
		return nil
	}
	o, err := s.media.Open(r.Context(), loc)
	if errors.Is(err, fs.ErrNotExist) {
		w.Header().Del("Content-Disposition")
		http.NotFound(w, r)
		return nil
	} else if err != nil {
		return err
	}
	defer o.Close()
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, path.Base(filepath.ToSlash(loc)), o.ModTime(), o)
	return nil
}

// Attachment marks an answer as a download named filename.
func Attachment(h http.Header, filename string) {
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
}
