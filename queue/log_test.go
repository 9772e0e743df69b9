package queue

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestLogRedisTo: go-redis's own complaints (here: no sentinel answers) reach the process's slog
// logger, tagged comp=redis, instead of bare lines on standard error.
func TestLogRedisTo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	var buf bytes.Buffer
	LogRedisTo(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { LogRedisTo(slog.New(slog.NewTextHandler(os.Stderr, nil))) })
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "relais", SentinelAddrs: []string{dead}, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping through a sentinel nobody runs succeeded")
	}
	if out := buf.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "comp=redis") || !strings.Contains(out, dead) {
		t.Errorf("go-redis logged %q, want a WARN line tagged comp=redis naming the sentinel %s", out, dead)
	}
}
