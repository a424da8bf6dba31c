// Package logformat is the -log-format flag shared by glb's commands: text
// (slog's key=value lines, the default, for a terminal or journald) or json
// (one object a line, for log shippers such as Loki, Elasticsearch or
// Cloud Logging), and the logger it describes.
package logformat

import (
	"fmt"
	"io"
	"log/slog"
)

// Format is the value of -log-format. The zero value is text.
type Format string

// The formats -log-format accepts.
const (
	Text Format = "text"
	JSON Format = "json"
)

// Usage is the help text of the flag, the same in every command.
const Usage = "log line format: text (key=value) or json (one object a line)"

// String returns the format, "text" for the zero value.
func (f *Format) String() string {
	if f == nil || *f == "" {
		return string(Text)
	}
	return string(*f)
}

// Set accepts "text" or "json"; anything else is an error the flag package
// reports as a bad command line (exit status 2).
func (f *Format) Set(s string) error {
	switch Format(s) {
	case Text, JSON:
		*f = Format(s)
		return nil
	}
	return fmt.Errorf("%q: want text or json", s)
}

// New returns a logger writing lines of format f at level and above to w.
func New(w io.Writer, f Format, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if f == JSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
