package api

// Resumable uploads with the tus protocol (https://tus.io/protocols/resumable-upload, version 1.0.0),
// served by tusd's handler at /api/v1/uploads:
//
//	POST   /api/v1/uploads        Upload-Length, Upload-Metadata (filename, filetype) -> 201, Location
//	HEAD   /api/v1/uploads/{id}   -> Upload-Offset: how many bytes the server has
//	PATCH  /api/v1/uploads/{id}   Upload-Offset, application/offset+octet-stream body -> new Upload-Offset
//	DELETE /api/v1/uploads/{id}   gives the upload up
//
// A finished upload becomes a lesson through POST /api/v1/lessons with its id in the 'upload' field.
// Partial uploads are files under MEDIA_DIR/uploads/tus (ID and ID.info); tusd never expires them, so
// SweepUploads removes those untouched for UploadExpiry.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/filelocker"
	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/lessons"
	"github.com/relais-edu/relais/locale"
)

const uploadsPath = lessons.UploadsPath

// UploadExpiry is how long a partial upload is kept after its last byte arrived.
const UploadExpiry = 24 * time.Hour

// ownerKey is the metadata key holding the id of the user who created an upload. The server sets it:
// a client's own value is replaced.
const ownerKey = "owner"

// uploadIDRe matches the ids filestore makes (32 hex digits); anything else is no upload of ours.
var uploadIDRe = regexp.MustCompile(`^[0-9a-f]{16,64}$`)

// TusStore keeps resumable uploads where every API process reaches them (object storage), locked
// through a lock every process shares (Redis), so that consecutive PATCH requests of one upload may
// reach different processes.
type TusStore struct {
	Store  TusDataStore
	Locker handler.Locker
	// Location is where a finished upload's data is in the media store (Config.Media).
	Location func(info handler.FileInfo) string
	// Sweep removes uploads untouched since before; nil when the storage expires them itself (a
	// bucket lifecycle rule).
	Sweep func(ctx context.Context, before time.Time) (int, error)
}

// TusDataStore is a tusd store that can also end uploads (filestore, s3store).
type TusDataStore interface {
	handler.DataStore
	handler.TerminaterDataStore
}

// uploads is the tus side of the API: tusd on a file store under dir (one machine), or on a TusStore.
type uploads struct {
	dir    string // the file store's; "" on a TusStore
	store  TusDataStore
	locker handler.Locker
	shared *TusStore
	media  relais.MediaStore
	tus    http.Handler
	max    int64
}

func newUploads(cfg Config, media relais.MediaStore, log *slog.Logger) *uploads {
	u := &uploads{max: cfg.MaxUploadBytes, media: media, shared: cfg.Uploads}
	if cfg.Uploads != nil {
		u.store, u.locker = cfg.Uploads.Store, cfg.Uploads.Locker
	} else {
		u.dir = filepath.Join(cfg.MediaDir, "uploads", "tus")
		u.store = filestore.New(u.dir)
		locker := filelocker.New(u.dir)
		// A resumed upload asks the interrupted request to let go of its lock: poll for that often.
		locker.HolderPollInterval, locker.AcquirerPollInterval = 250*time.Millisecond, 100*time.Millisecond
		u.locker = locker
	}
	// Only the core, termination and locking: no concatenation (it would read other users' uploads)
	// and no deferred length (the size is checked before any byte is taken).
	composer := handler.NewStoreComposer()
	composer.UseCore(u.store)
	composer.UseTerminater(u.store)
	composer.UseLocker(u.locker)
	h, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer:             composer,
		BasePath:                  uploadsPath + "/",
		MaxSize:                   cfg.MaxUploadBytes,
		DisableDownload:           true,
		Cors:                      &handler.CorsConfig{Disable: true}, // same origin only: the UI forwards
		Logger:                    expslog.New(tusLog{log.Handler()}),
		PreUploadCreateCallback:   u.preCreate,
		PreFinishResponseCallback: u.preFinish,
		AcquireLockTimeout:        10 * time.Second,
	})
	if err != nil {
		panic(fmt.Sprintf("tusd configuration: %v", err)) // a programming error: the config above is fixed
	}
	u.tus = h.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			h.PostFile(w, r)
		case http.MethodHead:
			h.HeadFile(w, r)
		case http.MethodPatch:
			h.PatchFile(w, r)
		case http.MethodDelete:
			h.DelFile(w, r)
		}
	}))
	return u
}

// serveUpload is every tus route: the size is checked before an upload is made, and only its owner
// reaches an upload.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if r.Method == http.MethodPost {
		if err := s.uploads.checkLength(r.Header); err != nil {
			return err
		}
		if s.uploads.dir != "" {
			if err := os.MkdirAll(s.uploads.dir, 0o750); err != nil {
				return err
			}
		}
	} else if _, err := s.uploads.owned(ctx, id, userFrom(ctx).ID); err != nil {
		return err
	}
	// tusd reads the upload id from the path, as if the base path had been stripped.
	r2 := r.Clone(ctx)
	r2.URL.Path, r2.URL.RawPath = "/"+id, ""
	r2.Header.Del("X-HTTP-Method-Override") // the route decided the method and what it may reach
	if r2.Header.Get("X-Request-Id") == "" {
		r2.Header.Set("X-Request-Id", w.Header().Get("X-Request-Id")) // tusd logs it
	}
	s.uploads.tus.ServeHTTP(&tusWriter{ResponseWriter: w, reqID: w.Header().Get("X-Request-Id")}, r2)
	return nil
}

// checkLength refuses an upload without a size, or larger than the limit, before it exists.
func (u *uploads) checkLength(h http.Header) error {
	v := h.Get("Upload-Length")
	if v == "" {
		return relais.Errorf(relais.EINVALID, "Declare the file's size in the Upload-Length header: uploads of unknown length are not accepted.")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return relais.Errorf(relais.EINVALID, "Upload-Length %q is not a size in bytes.", v)
	}
	if n > u.max {
		return relais.Errorf(relais.ETOOLARGE, "The file is %s, larger than the limit of %s. Shorten the lesson or lower its resolution.",
			relais.HumanBytes(n), relais.HumanBytes(u.max))
	}
	return nil
}

// owned returns the upload's info when it exists and belongs to userID; another user's upload is
// reported as not found, so ids leak nothing.
func (u *uploads) owned(ctx context.Context, id, userID string) (handler.FileInfo, error) {
	notFound := relais.Errorf(relais.ENOTFOUND, "Upload %q not found: it was finished and used, given up, or left unfinished for more than %d hours. Upload the file again.",
		id, int(UploadExpiry.Hours()))
	if !u.validID(id) {
		return handler.FileInfo{}, notFound
	}
	up, err := u.store.GetUpload(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		return handler.FileInfo{}, notFound
	} else if err != nil {
		return handler.FileInfo{}, fmt.Errorf("upload %s: %w", id, err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return info, fmt.Errorf("upload %s: %w", id, err)
	}
	if info.MetaData[ownerKey] != userID {
		return handler.FileInfo{}, notFound
	}
	return info, nil
}

// preCreate checks an upload before tusd makes it: a named video or audio file of a known, non-zero
// size. It records the owner in the upload's metadata.
func (u *uploads) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	var none handler.FileInfoChanges
	user := userFrom(hook.Context)
	if user.ID == "" {
		return handler.HTTPResponse{}, none, handler.NewError("ERR_UNAUTHORIZED", "Send an API token.", http.StatusUnauthorized)
	}
	lang := locale.Accept(hook.HTTPRequest.Header.Get("Accept-Language"))
	info := hook.Upload
	if info.SizeIsDeferred {
		return handler.HTTPResponse{}, none, tusError(relais.Errorf(relais.EINVALID, "Declare the file's size in the Upload-Length header: uploads of unknown length are not accepted."), lang)
	}
	if info.Size == 0 {
		return handler.HTTPResponse{}, none, tusError(relais.Errorf(relais.EINVALID, "The media file is empty."), lang)
	}
	name, typ := strings.TrimSpace(info.MetaData["filename"]), strings.ToLower(strings.TrimSpace(info.MetaData["filetype"]))
	if name == "" || typ == "" {
		return handler.HTTPResponse{}, none, tusError(relais.Errorf(relais.EINVALID,
			"Name the file and its type in the Upload-Metadata header (filename and filetype, e.g. video/mp4)."), lang)
	}
	if err := mediaTypeOK(typ); err != nil {
		return handler.HTTPResponse{}, none, tusError(err, lang)
	}
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	if len(name) > 255 {
		name = name[len(name)-255:]
	}
	return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: handler.MetaData{
		"filename": name, "filetype": typ, ownerKey: user.ID}}, nil
}

// mediaTypeOK accepts a declared video or audio type, and says what to do with anything else.
func mediaTypeOK(typ string) error {
	switch {
	case strings.HasPrefix(typ, "video/"), strings.HasPrefix(typ, "audio/"):
		return nil
	case typ == "application/pdf":
		return relais.Errorf(relais.EINVALID, "This is a PDF document: attach it as the lesson's worksheet, and upload the recording of the lesson here.")
	case strings.HasPrefix(typ, "text/"):
		return relais.Errorf(relais.EINVALID, "This is a text file, not a recording: put the lesson text in the 'text' field, and upload the video or audio recording here.")
	case strings.HasPrefix(typ, "image/"):
		return relais.Errorf(relais.EINVALID, "This is a picture, not a video or audio file. Upload the recording of the lesson.")
	}
	return relais.Errorf(relais.EINVALID, "Only video or audio files can be uploaded here, and this one says it is %s. Export the lesson from your camera or editing app as MP4.", typ)
}

// validID tells whether id may name an upload of ours: filestore makes 32 hex digits, tusd's S3
// store an object id and a multipart upload id joined by "+".
func (u *uploads) validID(id string) bool {
	if u.shared != nil {
		return s3UploadIDRe.MatchString(id)
	}
	return uploadIDRe.MatchString(id)
}

// s3UploadIDRe matches the ids of tusd's S3 store: hex object id, "+", the server's multipart id.
var s3UploadIDRe = regexp.MustCompile(`^[0-9a-f]{16,64}\+[0-9A-Za-z._~=-]{1,512}$`)

// location is where a finished upload's data is in the media store.
func (u *uploads) location(info handler.FileInfo) string {
	if u.shared != nil {
		return u.shared.Location(info)
	}
	return info.Storage["Path"]
}

// preFinish looks at the first bytes of a finished upload, as a direct upload's are looked at.
func (u *uploads) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	if err := u.sniff(hook.Context, hook.Upload); err != nil {
		return handler.HTTPResponse{}, tusError(err, locale.Accept(hook.HTTPRequest.Header.Get("Accept-Language")))
	}
	return handler.HTTPResponse{}, nil
}

// sniff applies lessons.SniffMedia to the start of a finished upload.
func (u *uploads) sniff(ctx context.Context, info handler.FileInfo) error {
	f, err := u.media.Open(ctx, u.location(info))
	if err != nil {
		return err
	}
	defer f.Close()
	head, err := io.ReadAll(io.LimitReader(f, 512))
	if err != nil {
		return err
	}
	return lessons.SniffMedia(head)
}

// tusError turns an application error into tusd's, so that the client reads its message in lang.
// Internal errors are left to tusd, which logs them.
func tusError(err error, lang string) error {
	code := relais.ErrorCode(err)
	if code == relais.EINTERNAL {
		return err
	}
	return handler.NewError("ERR_"+strings.ToUpper(code), locale.Message(err, lang), relais.HTTPStatus(code))
}

// tusWriter makes the Location tusd answers a path (tusd builds an absolute URL from the request,
// which is wrong behind a TLS proxy), and shows internal errors as the rest of the API does: the
// details are in tusd's log, not in the answer.
type tusWriter struct {
	http.ResponseWriter
	reqID    string
	wrote    bool
	internal bool
}

func (w *tusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.Header()
	if loc, err := url.Parse(h.Get("Location")); err == nil && strings.HasPrefix(loc.Path, uploadsPath+"/") {
		h.Set("Location", loc.Path)
	}
	if code >= 500 {
		w.internal = true
		msg := "Internal error; quote request id " + w.reqID + " to the administrator.\n"
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(msg)))
		w.ResponseWriter.WriteHeader(code)
		io.WriteString(w.ResponseWriter, msg)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.internal {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *tusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tusLog passes tusd's warnings and errors to the API's log; its per-request chatter stays out.
type tusLog struct{ h slog.Handler }

func (l tusLog) Enabled(_ context.Context, level expslog.Level) bool {
	return level >= expslog.LevelWarn
}

func (l tusLog) Handle(ctx context.Context, r expslog.Record) error {
	level := slog.Level(r.Level)
	if r.Message == "BodyReadError" {
		level = slog.LevelInfo // a dropped connection: the client resumes
	}
	rec := slog.NewRecord(r.Time, level, "tusd: "+r.Message, r.PC)
	r.Attrs(func(a expslog.Attr) bool {
		rec.AddAttrs(slog.Any(a.Key, a.Value.Any()))
		return true
	})
	if !l.h.Enabled(ctx, level) {
		return nil
	}
	return l.h.Handle(ctx, rec)
}

func (l tusLog) WithAttrs(as []expslog.Attr) expslog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Any(a.Key, a.Value.Any())
	}
	return tusLog{l.h.WithAttrs(out)}
}

func (l tusLog) WithGroup(name string) expslog.Handler { return tusLog{l.h.WithGroup(name)} }
