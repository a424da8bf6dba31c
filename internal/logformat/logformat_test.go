package logformat

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    Format
		wantErr bool
	}{
		{nil, "", false},
		{[]string{"-log-format", "text"}, Text, false},
		{[]string{"-log-format=json"}, JSON, false},
		{[]string{"-log-format", "JSON"}, "", true},
		{[]string{"-log-format", "logfmt"}, "", true},
		{[]string{"-log-format", ""}, "", true},
	} {
		var f Format
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(&f, "log-format", Usage)
		err := fs.Parse(tc.args)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err = %v, want error %v", tc.args, err, tc.wantErr)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "want text or json") {
				t.Errorf("%q: error %q does not say what is accepted", tc.args, err)
			}
			continue
		}
		if f != tc.want {
			t.Errorf("%q: format %q, want %q", tc.args, f, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		format Format
		check  func(line string) error
	}{
		{"", textLine},
		{Text, textLine},
		{JSON, func(line string) error {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				return err
			}
			if m["msg"] != "configuration changed" || m["component"] != "store" || m["level"] != "INFO" {
				return fmt.Errorf("fields %v", m)
			}
			return nil
		}},
	} {
		var buf bytes.Buffer
		log := New(&buf, tc.format, slog.LevelInfo)
		log.Debug("hidden")
		log.Info("configuration changed", "component", "store")
		out := strings.TrimSuffix(buf.String(), "\n")
		if strings.Contains(out, "\n") || strings.Contains(out, "hidden") {
			t.Errorf("format %q: want one info line, got %q", tc.format, out)
			continue
		}
		if err := tc.check(out); err != nil {
			t.Errorf("format %q: line %q: %v", tc.format, out, err)
		}
	}
}

func textLine(line string) error {
	if !strings.Contains(line, `msg="configuration changed" component=store`) || !strings.Contains(line, "level=INFO") {
		return errors.New("not a text line")
	}
	return nil
}
