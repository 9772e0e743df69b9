// Package mediastore keeps the lessons' files (relais.MediaStore) in a local directory, the default, or
// in S3-compatible object storage through minio-go, so that API and worker processes on several
// machines share no disk.
package mediastore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	relais "github.com/relais-edu/relais"
)

// Dir keeps media as files under a directory: a location is the file's path.
type Dir struct {
	Root string
}

var _ relais.MediaStore = (*Dir)(nil)

// NewDir returns the store of the directory root (made when first written).
func NewDir(root string) *Dir { return &Dir{Root: root} }

func (d *Dir) String() string { return d.Root }

// cleanKey refuses a key that would leave the store: absolute, empty, or with "..".
func cleanKey(key string) (string, error) {
	c := path.Clean(key)
	if key == "" || c == "." || strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") || strings.Contains(key, `\`) {
		return "", fmt.Errorf("media key %q: not a relative path of slash-separated names", key)
	}
	return c, nil
}

func (d *Dir) path(key string) (string, error) {
	k, err := cleanKey(key)
	if err != nil {
		return "", err
	}
	return filepath.Join(d.Root, filepath.FromSlash(k)), nil
}

// Put writes r to a temporary file beside the final one and renames it.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	return p, nil
}

// PutFile renames the file into place, or copies it when it is on another file system.
func (d *Dir) PutFile(ctx context.Context, key, src string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	return p, d.rename(ctx, src, p)
}

// Move renames the file at loc to key's path.
func (d *Dir) Move(ctx context.Context, loc, key string) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	if loc == p {
		return p, nil
	}
	return p, d.rename(ctx, loc, p)
}

func (d *Dir) rename(ctx context.Context, src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	if !errors.Is(err, syscall.EXDEV) {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := d.putPath(ctx, dst, f); err != nil {
		return err
	}
	f.Close()
	return os.Remove(src)
}

func (d *Dir) putPath(ctx context.Context, dst string, r io.Reader) (string, error) {
	rel, err := filepath.Rel(d.Root, dst)
	if err != nil {
		return "", err
	}
	return d.Put(ctx, filepath.ToSlash(rel), r, -1)
}

// Open opens the file at loc.
func (d *Dir) Open(_ context.Context, loc string) (relais.MediaObject, error) {
	f, err := os.Open(loc)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", loc, os.ErrNotExist)
	}
	return &dirObject{File: f, st: st}, nil
}

type dirObject struct {
	*os.File
	st os.FileInfo
}

func (o *dirObject) Size() int64        { return o.st.Size() }
func (o *dirObject) ModTime() time.Time { return o.st.ModTime() }

// Remove deletes the file at loc.
func (d *Dir) Remove(_ context.Context, loc string) error {
	if err := os.Remove(loc); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// LocalPath is loc itself: the file is on this machine.
func (d *Dir) LocalPath(loc string) (string, bool) { return loc, true }

// Check makes the directory and writes and removes a file in it.
func (d *Dir) Check(context.Context) error {
	if err := os.MkdirAll(d.Root, 0o750); err != nil {
		return fmt.Errorf("media directory: %w", err)
	}
	f, err := os.CreateTemp(d.Root, ".check-*")
	if err != nil {
		return fmt.Errorf("media directory %s is not writable: %w", d.Root, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
