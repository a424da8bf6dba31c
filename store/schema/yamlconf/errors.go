package yamlconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The formats a file can be written in: JSON is YAML too, but a JSON file's
// mistakes are told in JSON's words.
const (
	formatYAML = "YAML"
	formatJSON = "JSON"
)

// formatOf tells JSON from YAML by the first character that is not space:
// a YAML file of glb's layout starts with a key or a comment.
func formatOf(data []byte) string {
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return formatJSON
	}
	return formatYAML
}

// jsonSyntax checks that data is one JSON value, and otherwise returns the
// problem at the line and column encoding/json stopped at.
func jsonSyntax(data []byte) (Problem, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	err := dec.Decode(&v)
	if err == nil {
		off := int(dec.InputOffset())
		if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
			off += len(data[off:]) - len(bytes.TrimLeft(data[off:], " \t\r\n"))
			line, col := lineCol(data, off)
			return Problem{Line: line, Col: col, Msg: "bad JSON: trailing data after the object"}, false
		}
		return Problem{}, true
	}
	off := len(data)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = int(se.Offset)
		if off > 0 {
			off-- // Offset is just past the offending byte
		}
	}
	line, col := lineCol(data, off)
	msg := err.Error()
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "unexpected end of file (a '}' or ']' is missing?)"
	}
	return Problem{Line: line, Col: col, Msg: "bad JSON: " + msg}, false
}

// lineCol turns a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int) (int, int) {
	off = min(off, len(data))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	return line, off - (bytes.LastIndexByte(before, '\n') + 1) + 1
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlSyntax turns a YAML syntax error into a problem at the offending
// line. The YAML parser names the line where the enclosing block starts
// (line 1 of a small file), or the line before a tab; the offending line
// is the first one at which the file, cut after it, gives the same error.
// Its column is that of a tab in the indentation, or of the line's first
// character.
func yamlSyntax(data []byte, err error) Problem {
	text := err.Error()
	m := yamlLine.FindStringSubmatch(text)
	if m == nil {
		return Problem{Msg: "bad YAML: " + strings.TrimPrefix(text, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // after the last newline
	}
	if strings.HasPrefix(m[2], "did not find expected ',' or") {
		// An unclosed [ or {: the parser names the line before the one
		// the bracket opens on (it counts that mark from 0).
		line++
		if line <= len(lines) {
			if i := bytes.LastIndexAny(lines[line-1], "[{"); i >= 0 {
				return Problem{Line: line, Col: i + 1, Msg: "bad YAML: " + m[2] + " (this bracket is not closed)"}
			}
		}
	} else {
		// The parser names a line at or before the offending one. Cut the
		// file after line n: the first n whose cut gives the same error
		// is the offending line (text after it cannot change an error the
		// parser meets before), found by bisection.
		lo, hi := max(1, min(line, len(lines))), len(lines)
		for lo < hi {
			mid := (lo + hi) / 2
			if sameYAMLError(bytes.Join(lines[:mid], nil), m[2]) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		line = lo
	}
	col := 0
	if line >= 1 && line <= len(lines) {
		l := lines[line-1]
		rest := bytes.TrimLeft(l, " ")
		col = len(l) - len(rest) + 1
		if i := bytes.IndexByte(l, '\t'); i >= 0 && len(bytes.TrimLeft(l[:i], " ")) == 0 {
			col = i + 1
			if !strings.Contains(m[2], "tab") {
				m[2] += " (a tab: YAML indents with spaces only)"
			}
		}
	}
	return Problem{Line: line, Col: col, Msg: "bad YAML: " + m[2]}
}

// sameYAMLError reports whether parsing data (every document in it) fails
// with the message msg.
func sameYAMLError(data []byte, msg string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var err error
	for err == nil {
		var doc yaml.Node
		err = dec.Decode(&doc)
	}
	m := yamlLine.FindStringSubmatch(err.Error())
	return m != nil && m[2] == msg
}

// DidYouMean returns `; did you mean "x"?` naming the valid word nearest
// to s, or "" when none is near enough to be a likely typo.
func DidYouMean(s string, valid []string) string {
	best, bestD := "", -1
	for _, v := range valid {
		d := editDistance(strings.ToLower(s), strings.ToLower(v))
		if bestD < 0 || d < bestD {
			best, bestD = v, d
		}
	}
	if bestD < 0 || bestD == 0 && best == s || bestD > max(1, len(best)/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the edit distance of a and b in bytes, where an
// insertion, a deletion, a substitution and a swap of two neighbours
// (the commonest typo: "wieght") each count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// ProblemsError is a file's problems, as an error.
type ProblemsError struct {
	Name     string // the file's name, as the problems are printed
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Format(e.Name)
	}
	return fmt.Sprintf("%s: %d problem(s): %s", e.Name, len(e.Problems), strings.Join(lines, "\n"))
}

// Load parses and validates a file read from name (used in messages): the
// keys of a file without problems, else a *ProblemsError. It is what
// glbctl validate and apply, and glbd -dev's seed, read files with.
func Load(name string, data []byte, prefix string) (*Config, error) {
	c := Parse(data, prefix)
	if ps := c.Validate(); len(ps) > 0 {
		return nil, &ProblemsError{Name: name, Problems: ps}
	}
	return c, nil
}
