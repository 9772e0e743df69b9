package queue

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"
)

// asynqLogger adapts slog to asynq's Logger.
type asynqLogger struct{ log *slog.Logger }

func newAsynqLogger(l *slog.Logger) asynqLogger { return asynqLogger{log: l.With("comp", "asynq")} }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...))
	os.Exit(1)
}

// LogRedisTo sends go-redis's own messages (dial failures, Sentinel's "new master") to l instead of
// the standard error's bare log lines. It is process-wide: a command's main calls it once.
func LogRedisTo(l *slog.Logger) { redis.SetLogger(redisLogger{l.With("comp", "redis")}) }

type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
}
