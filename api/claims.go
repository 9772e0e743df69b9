package api

// Finished resumable uploads claimed by new lessons (lessons.Uploads), and the sweep of expired ones.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	relais "github.com/relais-edu/relais"
	"github.com/relais-edu/relais/internal/tick"
	"github.com/relais-edu/relais/lessons"
	"github.com/tus/tusd/v2/pkg/handler"
)

var _ lessons.Uploads = (*uploads)(nil)

// Claim is claim for lessons.Service.
func (u *uploads) Claim(ctx context.Context, ref, userID string) (lessons.ClaimedUpload, error) {
	c, err := u.claim(ctx, ref, userID)
	if err != nil {
		return nil, err // not a typed nil in an interface
	}
	return c, nil
}

// claimedUpload is a finished upload held for a lesson: its file, and its lock until release.
type claimedUpload struct {
	u    *uploads
	id   string
	info handler.FileInfo
	loc  string
	name string
	lock handler.Lock
}

// claim finds the caller's finished upload named by ref (its id or URL), checks its first bytes and
// locks it. An upload that is not media is removed: it can never become a lesson.
func (u *uploads) claim(ctx context.Context, ref, userID string) (*claimedUpload, error) {
	id := strings.TrimSpace(ref)
	if p, err := url.Parse(id); err == nil && strings.Contains(p.Path, "/") {
		id = p.Path[strings.LastIndex(strings.TrimRight(p.Path, "/"), "/")+1:]
		id = strings.TrimRight(id, "/")
	}
	if !u.validID(id) {
		return nil, relais.Errorf(relais.EINVALID, "The 'upload' field must be the id or URL of an upload made at %s/.", uploadsPath)
	}
	info, err := u.owned(ctx, id, userID)
	if err != nil {
		return nil, err
	}
	// Checked before locking: taking the lock would interrupt a transfer still under way.
	if info.Offset != info.Size {
		return nil, unfinished(info)
	}
	lock, err := u.locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); errors.Is(err, handler.ErrLockTimeout) {
		return nil, relais.Errorf(relais.ECONFLICT, "Upload %s is busy; try again in a moment.", id)
	} else if err != nil {
		return nil, fmt.Errorf("lock upload %s: %w", id, err)
	}
	c := &claimedUpload{u: u, id: id, lock: lock}
	if info, err = u.owned(ctx, id, userID); err != nil { // used by a request that held the lock before us
		c.release()
		return nil, err
	}
	if info.Offset != info.Size {
		c.release()
		return nil, unfinished(info)
	}
	c.info, c.loc, c.name = info, u.location(info), info.MetaData["filename"]
	if err := u.sniff(ctx, info); err != nil {
		if relais.ErrorCode(err) != relais.EINTERNAL {
			c.remove()
		}
		c.release()
		return nil, err
	}
	return c, nil
}

func unfinished(info handler.FileInfo) error {
	return relais.Errorf(relais.ECONFLICT, "Upload %s is not finished: the server has %d of its %d bytes. Resume it, then create the lesson.",
		info.ID, info.Offset, info.Size)
}

// remove deletes what is left of the upload (its data is gone once moved into a lesson).
func (c *claimedUpload) remove() {
	if c.u.shared == nil {
		for _, p := range []string{c.loc, filepath.Join(c.u.dir, c.id+".info")} {
			if p != "" {
				os.Remove(p)
			}
		}
		return
	}
	// Its info and what is left of its multipart upload; best effort: an expiry rule of the bucket
	// removes what this leaves.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c.u.media.Remove(ctx, c.loc)
	if up, err := c.u.store.GetUpload(ctx, c.id); err == nil {
		c.u.store.AsTerminatableUpload(up).Terminate(ctx)
	}
}

func (c *claimedUpload) release() { c.lock.Unlock() }

func (c *claimedUpload) Location() string { return c.loc }
func (c *claimedUpload) Name() string     { return c.name }
func (c *claimedUpload) Remove()          { c.remove() }
func (c *claimedUpload) Release()         { c.release() }

// SweepUploads removes uploads, finished or not, that received nothing since before now minus
// UploadExpiry, and returns how many it removed.
func (s *Server) SweepUploads(now time.Time) (int, error) {
	u := s.uploads
	if u.shared != nil {
		if u.shared.Sweep == nil {
			return 0, nil
		}
		return u.shared.Sweep(context.Background(), now.Add(-UploadExpiry))
	}
	infos, err := filepath.Glob(filepath.Join(u.dir, "*.info"))
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, infoPath := range infos {
		id := strings.TrimSuffix(filepath.Base(infoPath), ".info")
		data := filepath.Join(u.dir, id)
		last := time.Time{}
		for _, p := range []string{infoPath, data} {
			if st, err := os.Stat(p); err == nil && st.ModTime().After(last) {
				last = st.ModTime()
			}
		}
		if now.Sub(last) < UploadExpiry {
			continue
		}
		for _, p := range []string{data, infoPath, filepath.Join(u.dir, id+".lock"), filepath.Join(u.dir, id+".stop")} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// RunUploadSweep sweeps expired uploads now and then every interval, until ctx ends.
func (s *Server) RunUploadSweep(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func(context.Context) {
		if n, err := s.SweepUploads(s.now()); err != nil {
			s.log.Warn("sweep expired uploads", "removed", n, "err", err)
		} else if n > 0 {
			s.log.Info("swept expired uploads", "removed", n)
		}
	})
}
