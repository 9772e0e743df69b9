package localserver

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcess starts a child that listens only after a while (a shell sleeping, then nothing: it
// never listens), and one that exits at once, and checks what WaitReady and Stop say.
func TestProcess(t *testing.T) {
	ctx := context.Background()
	sleeper, err := Start("sleep", exec.Command("sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	err = sleeper.WaitReady(ctx, 200*time.Millisecond, syscall.SIGTERM, func() error { return Listening(addr) })
	if err == nil || !strings.Contains(err.Error(), "sleep did not answer within 200ms: not listening on "+addr) {
		t.Errorf("WaitReady of a server that never listens: %v", err)
	}
	if err := sleeper.Stop(ctx, syscall.SIGTERM); err != nil { // stopped already: nothing to do
		t.Errorf("second Stop: %v", err)
	}

	quitter, err := Start("false", exec.Command("false"))
	if err != nil {
		t.Fatal(err)
	}
	err = quitter.WaitReady(ctx, 10*time.Second, syscall.SIGTERM, func() error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "false exited: exit status 1") {
		t.Errorf("WaitReady of a server that exits: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := Listening(l.Addr().String()); err != nil {
		t.Errorf("Listening on an open port: %v", err)
	}
	if _, err := Start("missing", exec.Command("/nonexistent/server")); err == nil {
		t.Error("Start of a missing binary did not fail")
	}
	if got := Tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("Tail = %q", got)
	}
	if got := LogTail(os.DevNull, 2); got != "" {
		t.Errorf("LogTail of an empty file = %q", got)
	}
}
