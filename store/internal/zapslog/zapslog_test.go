package zapslog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestForwardsAtOrAboveLevel(t *testing.T) {
	var buf bytes.Buffer
	lg := New(slog.New(slog.NewTextHandler(&buf, nil)), zapcore.ErrorLevel).Named("etcd-client")
	lg.Warn("retrying", zap.Int("attempt", 3))
	lg.With(zap.String("member", "m1")).Error("lost leader", zap.Error(errors.New("timeout")), zap.Duration("after", 0))
	out := buf.String()
	if strings.Contains(out, "retrying") {
		t.Errorf("a warn line passed an error-level logger: %s", out)
	}
	for _, want := range []string{"level=ERROR", `msg="lost leader"`, "member=m1", "error=timeout", "after=0s", "logger=etcd-client"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestDrop(t *testing.T) {
	drop := func(msg string, f map[string]any) bool {
		return msg == "serving failed" && f["error"] == "use of closed network connection"
	}
	for _, tc := range []struct {
		name    string
		log     func(*zap.Logger)
		wantOut bool
	}{
		{"dropped", func(l *zap.Logger) {
			l.Error("serving failed", zap.Error(errors.New("use of closed network connection")))
		}, false},
		{"dropped with a With field", func(l *zap.Logger) {
			l.With(zap.Error(errors.New("use of closed network connection"))).Error("serving failed")
		}, false},
		{"same message, other error", func(l *zap.Logger) { l.Error("serving failed", zap.Error(errors.New("disk full"))) }, true},
		{"other message", func(l *zap.Logger) { l.Error("lost leader", zap.Error(errors.New("use of closed network connection"))) }, true},
	} {
		var buf bytes.Buffer
		tc.log(NewFiltered(slog.New(slog.NewTextHandler(&buf, nil)), zapcore.ErrorLevel, drop))
		if got := buf.Len() > 0; got != tc.wantOut {
			t.Errorf("%s: output %q, want a line: %v", tc.name, buf.String(), tc.wantOut)
		}
	}
}
