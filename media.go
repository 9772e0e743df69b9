package relais

import (
	"context"
	"io"
	"time"
)

// MediaStore keeps the lessons' files: uploads, renditions, worksheets, postal batches' PDFs and CSVs,
// and the playout exports. An object is put under a key of slash-separated names ("lessons/12/tv.ts")
// and comes back as its location: what the database keeps (Lesson.MediaPath, Rendition.Path,
// Worksheet.Path, PostalBatch.PDFPath...) and what Open takes. A local directory's locations are file
// paths, as they always were; object storage's are the keys.
//
// Readers never see part of an object: it appears whole when Put or PutFile returns, or not at all.
// An object that is not there is an error matching fs.ErrNotExist.
type MediaStore interface {
	// Put stores r's bytes under key, replacing what was there; size is -1 when unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) (loc string, err error)
	// PutFile moves the file at path into the store under key: the file is gone afterwards.
	PutFile(ctx context.Context, key, path string) (loc string, err error)
	// Move gives the object at loc the key key (a finished upload becoming a lesson's source).
	Move(ctx context.Context, loc, key string) (string, error)
	// Open opens the object at loc for reading, seeking included (HTTP range requests).
	Open(ctx context.Context, loc string) (MediaObject, error)
	// Remove deletes the object at loc; one already gone is no error.
	Remove(ctx context.Context, loc string) error
	// LocalPath returns the file path of the object at loc when it is on this machine's disk, so that
	// the media child reads it in place; object storage returns false and the object is staged.
	LocalPath(loc string) (string, bool)
	// Check says whether the store can be used now: the readiness probe and the start-up check.
	Check(ctx context.Context) error
	// String names the store for the log (a directory, or s3://bucket/prefix); never a credential.
	String() string
}

// MediaObject is an opened object of a MediaStore.
type MediaObject interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// MediaLinker is a MediaStore that can hand out a time-limited address of an object, so that a
// download goes to the storage directly (an HTTP redirect) instead of through Relais.
type MediaLinker interface {
	MediaURL(ctx context.Context, loc string, ttl time.Duration, contentType, filename string) (string, error)
}
