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
