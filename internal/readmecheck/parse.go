// Package readmecheck runs README.md's console examples against a real
// glbd in dev mode and compares their output with what README shows, so
// that the README cannot drift from the program (make readme-check).
//
// A console example is a "$ " line in a ```console block, with the lines
// up to the next one as its expected output; a command whose quotes are
// still open continues on the next line. The commands are those README
// uses (dig, its d() helper, etcdctl, curl, sleep, export, for loops, a
// pipe into grep or sort), run by a small interpreter here rather than a
// shell, so that the check needs nothing but Go: see run.go.
package readmecheck

import (
	"bufio"
	"fmt"
	"regexp"
	"strings"
)

// Example is one command of README with the output README shows for it.
type Example struct {
	Line    int      // README line of the "$ " prompt
	Section string   // the heading it is under
	Command string   // the command, continuation lines joined with "\n", comment removed
	Want    []string // expected output lines, comments removed; empty: README shows none
}

// Row is one row of the "Try it" table of subnets: a query for www with
// that client subnet and the answer and ECS scope README claims.
type Row struct {
	Line   int
	Subnet string   // e.g. "81.2.69.0/24"
	Addrs  []string // the answer's addresses in any order; nil when README names none (a weighted choice)
	Scope  int
}

// Parse returns the console examples of the sections with the given
// headings (their text without the leading #s, subsections included) and
// the rows of their +subnet= tables.
func Parse(readme string, sections []string) ([]Example, []Row, error) {
	var (
		examples []Example
		rows     []Row
		section  string // the heading in force, "" outside the wanted ones
		level    int    // its level
		inBlock  bool   // inside a ```console block
		inFence  bool   // inside any other fence
		cur      *Example
	)
	flush := func() {
		if cur != nil {
			examples = append(examples, *cur)
			cur = nil
		}
	}
	sc := bufio.NewScanner(strings.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			flush()
			inBlock = false
		case inBlock:
			switch {
			case cur != nil && openQuote(cur.Command) != 0:
				cur.Command += "\n" + line
				if openQuote(cur.Command) == 0 {
					cur.Command = stripComment(cur.Command)
				}
			case strings.HasPrefix(line, "$ "):
				flush()
				cur = &Example{Line: n, Section: section, Command: line[2:]}
				if openQuote(cur.Command) == 0 {
					cur.Command = stripComment(cur.Command)
				}
			case strings.TrimSpace(line) == "":
				flush()
			case cur == nil:
				return nil, nil, fmt.Errorf("README.md:%d: output %q without a command before it", n, line)
			default:
				cur.Want = append(cur.Want, stripOutputComment(line))
			}
		case inFence:
			if strings.HasPrefix(line, "```") {
				inFence = false
			}
		case strings.HasPrefix(line, "```console"):
			inBlock = section != ""
			inFence = !inBlock
		case strings.HasPrefix(line, "```"):
			inFence = true
		case strings.HasPrefix(line, "#"):
			l := len(line) - len(strings.TrimLeft(line, "#"))
			title := strings.TrimSpace(line[l:])
			if section != "" && l > level {
				section = title // a subsection of a wanted one
				continue
			}
			section, level = "", 0
			for _, s := range sections {
				if title == s {
					section, level = title, l
				}
			}
		case section != "" && strings.HasPrefix(line, "| `") && strings.Contains(line, "/"):
			r, err := parseRow(n, line)
			if err != nil {
				return nil, nil, err
			}
			if r != nil {
				rows = append(rows, *r)
			}
		}
	}
	if inBlock || inFence {
		return nil, nil, fmt.Errorf("README.md: a code block is not closed")
	}
	return examples, rows, sc.Err()
}

var (
	rowSubnet = regexp.MustCompile("^`([0-9a-f.:]+/[0-9]+)`$")
	rowAddr   = regexp.MustCompile("`([0-9a-f.:]+)`")
	rowScope  = regexp.MustCompile(`^([0-9]+)\b`)
)

// parseRow reads a row of the subnet table, or returns nil for a row of
// another table.
func parseRow(n int, line string) (*Row, error) {
	cells := strings.Split(strings.Trim(line, "|"), "|")
	if len(cells) != 4 {
		return nil, nil
	}
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	m := rowSubnet.FindStringSubmatch(cells[0])
	if m == nil {
		return nil, nil
	}
	r := &Row{Line: n, Subnet: m[1]}
	for _, a := range rowAddr.FindAllStringSubmatch(cells[2], -1) {
		r.Addrs = append(r.Addrs, a[1])
	}
	s := rowScope.FindStringSubmatch(cells[3])
	if s == nil {
		return nil, fmt.Errorf("README.md:%d: scope %q is not a number", n, cells[3])
	}
	fmt.Sscan(s[1], &r.Scope)
	return r, nil
}

// openQuote returns the quote character still open at the end of s, or 0;
// a quote in a comment ("# eu-west's backend") opens nothing.
func openQuote(s string) byte {
	open, _ := scanShell(s)
	return open
}

// stripComment removes a " # comment" outside quotes.
func stripComment(s string) string {
	if _, at := scanShell(s); at >= 0 {
		return strings.TrimRight(s[:at], " \t")
	}
	return s
}

// scanShell reads s as sh reads quotes and comments: it returns the quote
// still open at the end (0 if none) and where the first comment outside
// quotes starts (-1 if none). A comment runs to the end of its line.
func scanShell(s string) (open byte, comment int) {
	comment = -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case open == 0 && (c == '\'' || c == '"'):
			open = c
		case c == open:
			open = 0
		case open == 0 && c == '#' && i > 0 && (s[i-1] == ' ' || s[i-1] == '\t'):
			if comment < 0 {
				comment = i
			}
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				return 0, comment
			}
			i += j
		}
	}
	return open, comment
}

var outputComment = regexp.MustCompile(`\s+# .*$`)

// stripOutputComment removes a comment README adds to an output line
// ("192.0.2.10   # the standby"), which a tab or two spaces set off.
func stripOutputComment(s string) string {
	return outputComment.ReplaceAllString(s, "")
}
