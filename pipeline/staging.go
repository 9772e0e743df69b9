package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	relais "github.com/relais-edu/relais"
)

// Staging is the local room the media child works in: an object of the media store that is not on
// this machine's disk is copied here before the child reads it, and the renditions are written here
// before they go into the store. Every directory is removed when its work ends, and those of a dead
// process when the next one starts (Sweep).
type Staging struct {
	Dir string
}

// stagePrefix starts each working directory's name, followed by the owner's process id.
const stagePrefix = "stage-"

// Sweep removes the working directories left by processes that died (their pid is no longer alive);
// it returns how many it removed.
func (s Staging) Sweep() (int, error) {
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), stagePrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.Dir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// alive reports whether a process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// work makes a working directory; the caller removes it.
func (s Staging) work() (string, error) {
	if err := os.MkdirAll(s.Dir, 0o750); err != nil {
		return "", fmt.Errorf("staging: %w", err)
	}
	return os.MkdirTemp(s.Dir, stagePrefix+strconv.Itoa(os.Getpid())+"-")
}

// local returns a file path of the object at loc: the store's own when it is on this disk, else a
// copy in dir.
func local(ctx context.Context, media relais.MediaStore, loc, dir string) (string, error) {
	if p, ok := media.LocalPath(loc); ok {
		return p, nil
	}
	o, err := media.Open(ctx, loc)
	if err != nil {
		return "", fmt.Errorf("stage %s: %w", loc, err)
	}
	defer o.Close()
	p := filepath.Join(dir, "source"+filepath.Ext(loc))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, o); err != nil {
		f.Close()
		return "", fmt.Errorf("stage %s: %w", loc, err)
	}
	return p, f.Close()
}
