package queue

import (
	"fmt"
	"log/slog"
	"os"
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
