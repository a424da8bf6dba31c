// Package zapslog hands the zap log lines of etcd's client and embedded
// server to glb's log/slog logger, so that the few of them worth seeing land
// in the same structured stream as ours instead of on stderr in zap's format.
package zapslog

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a zap logger that writes entries at or above level to log.
// etcd logs a great deal at info and warn (every retry, every raft tick of
// note), so callers pass zapcore.ErrorLevel unless they are debugging etcd.
func New(log *slog.Logger, level zapcore.Level) *zap.Logger {
	return zap.New(&core{log: log, level: level})
}

// Drop reports whether an entry is one of the known, harmless lines its
// caller does not want to see; fields are the entry's fields (including
// those added with With), errors as their message.
type Drop func(msg string, fields map[string]any) bool

// NewFiltered is New with entries for which drop returns true left out.
func NewFiltered(log *slog.Logger, level zapcore.Level, drop Drop) *zap.Logger {
	return zap.New(&core{log: log, level: level, drop: drop})
}

// core is a zapcore.Core that forwards to slog. Fields added with With are
// converted once, when added, not on every entry.
type core struct {
	log   *slog.Logger
	level zapcore.Level
	attrs []any
	// fields are the With fields as drop sees them; nil without drop.
	fields []zapcore.Field
	drop   Drop
}

func (c *core) Enabled(l zapcore.Level) bool { return c.level.Enabled(l) }

func (c *core) With(fields []zapcore.Field) zapcore.Core {
	n := &core{log: c.log, level: c.level, attrs: append(slices.Clip(c.attrs), attrs(fields)...), drop: c.drop}
	if c.drop != nil {
		n.fields = append(slices.Clip(c.fields), fields...)
	}
	return n
}

func (c *core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *core) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if c.drop != nil {
		enc := zapcore.NewMapObjectEncoder()
		for _, f := range append(slices.Clip(c.fields), fields...) {
			f.AddTo(enc)
		}
		if c.drop(e.Message, enc.Fields) {
			return nil
		}
	}
	args := append(slices.Clip(c.attrs), attrs(fields)...)
	if e.LoggerName != "" {
		args = append(args, "logger", e.LoggerName)
	}
	// zap entries carry no context; the line is not tied to any request.
	c.log.Log(context.Background(), slogLevel(e.Level), e.Message, args...)
	return nil
}

func (c *core) Sync() error { return nil }

// attrs encodes zap fields through zap's own map encoder, which knows every
// field type (errors, durations, nested objects), and sorts them by key so
// that lines are stable.
func attrs(fields []zapcore.Field) []any {
	if len(fields) == 0 {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	out := make([]any, 0, len(enc.Fields))
	for _, k := range slices.Sorted(maps.Keys(enc.Fields)) {
		out = append(out, slog.Any(k, enc.Fields[k]))
	}
	return out
}

func slogLevel(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l == zapcore.InfoLevel:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
