package client

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relais-edu/relais/internal/testenv"
)

// TestUploadGivesUp stops after Attempts retries when the server stays away, and says so.
func TestUploadGivesUp(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	f := filepath.Join(t.TempDir(), "a.mp4")
	os.WriteFile(f, append([]byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p'}, make([]byte, 100)...), 0o600)
	var notes []string
	up := &Upload{Client: New("http://"+addr, "x"), Chunk: 1 << 20, Attempts: 2,
		Backoff: func(int) time.Duration { return time.Millisecond },
		Note:    func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }}
	_, err := up.Send(context.Background(), f)
	if err == nil || !strings.Contains(err.Error(), "gave up after 2 retries") {
		t.Errorf("send = %v, want it to give up after 2 retries", err)
	}
	if len(notes) != 2 {
		t.Errorf("notes = %q, want 2 retries", notes)
	}
}
