package yamlconf

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/glb-dns/glb/store/schema"
)

// Validate returns every problem of the file: its structure (from Parse),
// then each key's value as schema.Decode sees it and the checks across keys
// (a name's regions exist, a weight's region exists, a CNAME stands alone),
// run by a schema.Builder exactly as glbd runs them. Problems are sorted by
// line; none means glbd would accept every key.
func (c *Config) Validate() []Problem {
	ps := slices.Clone(c.Problems)
	b := schema.NewBuilder(c.Prefix)
	byKey := make(map[string]*Entry, len(c.Entries))
	for _, e := range c.Entries {
		byKey[e.Key] = e
		b.Put(e.Key, []byte(e.Value), 1)
	}
	st, _ := b.State(1)
	var regions []string // for "did you mean" of a region that does not exist
	for _, e := range c.Entries {
		if k, err := schema.ParseKey(c.Prefix, e.Key); err == nil && k.Kind == schema.KindRegion {
			regions = append(regions, k.Region)
		}
	}
	rejected := maps.Clone(c.broken)
	if rejected == nil {
		rejected = map[string]bool{}
	}
	for _, r := range st.Rejected {
		rejected[r.Key] = true
	}
	for _, r := range st.Rejected {
		if followsFrom(r.Reason, r.Key, rejected) {
			continue
		}
		e := byKey[r.Key]
		if e == nil { // cannot happen: every key came from an entry
			ps = append(ps, Problem{Path: r.Key, Msg: r.Reason})
			continue
		}
		// errors.Join puts each of a document's errors on a line of its
		// own; each gets its own place in the file.
		k, _ := schema.ParseKey(c.Prefix, e.Key)
		for reason := range strings.SplitSeq(r.Reason, "\n") {
			ps = append(ps, e.locate(k.Kind, reason, regions))
		}
	}
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	return ps
}

// followsFrom reports whether a rejection is only the consequence of
// another key in the file being rejected: a name whose region's document
// is refused is refused too ("no valid <key>"). Listing those would bury
// the one mistake to fix under its echoes.
func followsFrom(reason, key string, rejected map[string]bool) bool {
	for k := range rejected {
		if k == key {
			continue
		}
		if i := strings.Index(reason, k); i >= 0 {
			if end := i + len(k); end == len(reason) || reason[end] == ' ' || reason[end] == ')' {
				return true
			}
		}
	}
	return false
}

var (
	// leadingPath is a field path at the start of a schema message, as in
	// "addrs[1]: ..." or "lat 100 is outside -90..90".
	leadingPath = regexp.MustCompile(`^([a-z_][a-z0-9_]*(?:\[\d+\])*(?:\.[A-Za-z0-9_]+(?:\[\d+\])*)*)(: | )`)
	// goField is the path encoding/json names in a type error.
	goField = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.([A-Za-z0-9_.]+)`)
	// quoted is a Go-quoted string, as schema messages quote values.
	quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
)

// locate finds the node a schema message is about, so that the problem
// points at "addrs[1]" rather than at the whole region. The messages are
// the server's own; locating them is best effort, and the entry's line is
// always a correct answer. The message is told in the file's words, with
// a "did you mean" when a field or value is a likely typo.
func (e *Entry) locate(kind schema.Kind, msg string, regions []string) Problem {
	p := Problem{Line: e.Line, Col: e.Col, Path: e.Path}
	n, rel, rest := find(e.node, msg, 0)
	if n != nil {
		p.Line, p.Col, p.Path = n.Line, n.Column, e.Path+rel
	}
	p.Msg = plainMessage(rest) + suggest(kind, rel, rest, regions)
	return p
}

// find returns the node msg names inside doc, its path relative to doc,
// and msg with the leading path removed when it was written as "path: ".
func find(doc *yaml.Node, msg string, depth int) (*yaml.Node, string, string) {
	if doc == nil || depth > 4 {
		return nil, "", msg
	}
	if m := leadingPath.FindStringSubmatch(msg); m != nil {
		if n, rel := resolve(doc, m[1]); n != nil {
			if m[2] != ": " {
				return n, rel, msg
			}
			rest := msg[len(m[0]):]
			// "check: type ..." names a field inside check.
			if n2, rel2, rest2 := find(n, rest, depth+1); n2 != nil {
				return n2, rel + rel2, rest2
			}
			return n, rel, rest
		}
	}
	if m := goField.FindStringSubmatch(msg); m != nil {
		if n, rel := resolve(doc, m[1]); n != nil {
			return n, rel, msg
		}
	}
	for _, q := range quoted.FindAllString(msg, -1) {
		s, err := strconv.Unquote(q)
		if err != nil || s == "" {
			continue
		}
		if n := search(doc, s); n != nil {
			rel, _ := pathTo(doc, n)
			return n, rel, msg
		}
	}
	return nil, "", msg
}

// resolve follows a path such as "ns[1].addrs[0]" from doc.
func resolve(doc *yaml.Node, path string) (*yaml.Node, string) {
	n, rel := deref(doc), ""
	for part := range strings.SplitSeq(path, ".") {
		name, idx, _ := strings.Cut(part, "[")
		if n.Kind != yaml.MappingNode {
			return nil, ""
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				next = deref(n.Content[i+1])
			}
		}
		if next == nil {
			return nil, ""
		}
		n, rel = next, rel+"."+pathKey(name)
		for idx != "" {
			var num string
			num, idx, _ = strings.Cut(idx, "]")
			idx = strings.TrimPrefix(idx, "[")
			i, err := strconv.Atoi(num)
			if err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
				return nil, ""
			}
			n, rel = deref(n.Content[i]), rel+"["+num+"]"
		}
	}
	return n, rel
}

// search finds the first scalar, key or value, whose text is s.
func search(n *yaml.Node, s string) *yaml.Node {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && n.Value == s {
		return n
	}
	for _, c := range n.Content {
		if c.Kind != yaml.AliasNode {
			if f := search(c, s); f != nil {
				return f
			}
		}
	}
	return nil
}

// pathTo returns the path from doc to target: ".a.b[2]", or ".a" for the
// key node of field a itself.
func pathTo(doc, target *yaml.Node) (string, bool) {
	if doc == target {
		return "", true
	}
	switch doc.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(doc.Content); i += 2 {
			k, v := doc.Content[i], doc.Content[i+1]
			el := "." + pathKey(k.Value)
			if k == target {
				return el, true
			}
			if rel, ok := pathTo(v, target); ok {
				return el + rel, true
			}
		}
	case yaml.SequenceNode:
		for i, v := range doc.Content {
			if rel, ok := pathTo(v, target); ok {
				return "[" + strconv.Itoa(i) + "]" + rel, true
			}
		}
	}
	return "", false
}
