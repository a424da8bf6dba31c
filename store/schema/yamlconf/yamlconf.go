// Package yamlconf maps glb's configuration between etcd keys and one
// readable YAML file, for glbctl's export, validate and apply. Every
// document in the file is the JSON value of one etcd key, field for field,
// so the file needs no schema of its own: the keys it produces are checked
// by schema.Decode and schema.Builder, the code glbd runs, and errors are
// traced back to the line of the file that produced the key.
//
// The layout:
//
//	regions:
//	  eu-west:                  # <prefix>regions/eu-west, minus "weight"
//	    lat: 51.51
//	    addrs: [198.51.100.10]
//	    weight: 100             # <prefix>regions/eu-west/weight; absent = key absent
//	zones:
//	  gslb.example.test:        # <prefix>zones/gslb.example.test, minus names and records
//	    ns: [{name: ns2.example.net}]
//	    names:
//	      www: {regions: [eu-west]}               # .../names/www
//	    records:
//	      "@":
//	        TXT: {values: ["v=spf1 -all"]}        # .../records/@/TXT
//
// A region whose mapping holds only weight has no document key (the weight
// is then rejected, as glbd would); likewise a zone that holds only names
// and records. Depends on the standard library and gopkg.in/yaml.v3 only.
package yamlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/glb-dns/glb/store/schema"
)

// Entry is one etcd key produced by a file, and where in the file it came
// from.
type Entry struct {
	Key   string // full etcd key, e.g. /glb/regions/eu-west
	Value string // the value to store: compact JSON, or a weight's text
	Line  int    // line of the mapping entry that produced the key
	Col   int    // its column
	Path  string // its YAML path, e.g. regions.eu-west.weight

	node *yaml.Node // the document (or weight) node, to place errors inside it
}

// Problem is one mistake in a file.
type Problem struct {
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based column of the offending key or token; 0 when unknown
	Path string // YAML path of the offending node; "" for syntax errors
	Msg  string
}

// Format renders the problem as "file:line:col: path: message".
func (p Problem) Format(file string) string {
	loc := file
	if p.Line > 0 {
		loc += ":" + strconv.Itoa(p.Line)
		if p.Col > 0 {
			loc += ":" + strconv.Itoa(p.Col)
		}
	}
	if p.Path == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Path + ": " + p.Msg
}

// Config is a parsed file: the keys it produces and what was wrong with its
// structure. Schema checks come from Validate.
type Config struct {
	Prefix   string
	Format   string   // "YAML" or "JSON": what the file is written in, for messages
	Entries  []*Entry // sorted by key
	Problems []Problem

	broken map[string]bool // keys not produced because of a Problem
}

// KVs returns the entries as a map of full key to value.
func (c *Config) KVs() map[string]string {
	m := make(map[string]string, len(c.Entries))
	for _, e := range c.Entries {
		m[e.Key] = e.Value
	}
	return m
}

// Parse reads a file into the keys it stands for under prefix. Mistakes in
// the structure (a section that does not exist, a key given twice, a list
// where a mapping belongs) are collected in Problems with their lines; the
// rest of the file is still read.
func Parse(data []byte, prefix string) *Config {
	c := &Config{Prefix: prefix, Format: formatOf(data)}
	if c.Format == formatJSON {
		// YAML reads JSON too, but names the wrong line for its mistakes:
		// encoding/json knows where they are.
		if p, ok := jsonSyntax(data); !ok {
			c.Problems = append(c.Problems, p)
			return c
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c // an empty file holds no keys
		}
		c.Problems = append(c.Problems, yamlSyntax(data, err))
		return c
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		c.at(&more, "", "only one YAML document is allowed")
	} else if !errors.Is(err, io.EOF) {
		c.Problems = append(c.Problems, yamlSyntax(data, err))
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = deref(root.Content[0])
	}
	if isNull(root) {
		return c
	}
	if root.Kind != yaml.MappingNode {
		c.at(root, "", "want a mapping with the sections regions and zones")
		return c
	}
	for kn, v := range c.pairs(root, "") {
		switch k := kn.Value; k {
		case "regions":
			c.regions(v, kn)
		case "zones":
			c.zones(v, kn)
		default:
			c.at(kn, k, "unknown section: want regions or zones"+DidYouMean(k, []string{"regions", "zones"}))
		}
	}
	slices.SortFunc(c.Entries, func(a, b *Entry) int { return strings.Compare(a.Key, b.Key) })
	return c
}

// at records a problem at node n.
func (c *Config) at(n *yaml.Node, path, msg string) {
	c.Problems = append(c.Problems, Problem{Line: n.Line, Col: n.Column, Path: path, Msg: msg})
}

// regions reads regions: id -> region document plus weight.
func (c *Config) regions(v, kn *yaml.Node) {
	m, ok := c.mapping(v, kn, "regions", "a mapping of region ids")
	if !ok {
		return
	}
	for idn, rn := range c.pairs(m, "regions") {
		id := idn.Value
		path := "regions." + pathKey(id)
		if !c.segment(idn, path, "region id") {
			continue
		}
		r, ok := c.mapping(rn, idn, path, "a mapping of the region's fields")
		if !ok {
			c.markBroken(schema.RegionKey(c.Prefix, id))
			continue
		}
		doc, extra := c.split(r, path, "weight")
		if w, ok := extra["weight"]; ok {
			c.weight(id, w, path+".weight")
		}
		if len(doc.Content) > 0 || len(extra) == 0 {
			c.add(schema.RegionKey(c.Prefix, id), idn, path, doc)
		}
	}
}

func (c *Config) weight(id string, p [2]*yaml.Node, path string) {
	kn, v := p[0], deref(p[1])
	if v.Kind != yaml.ScalarNode || isNull(v) {
		c.at(kn, path, "want an integer 0.."+strconv.Itoa(schema.MaxWeight))
		return
	}
	c.Entries = append(c.Entries, &Entry{
		Key: schema.WeightKey(c.Prefix, id), Value: v.Value, Line: kn.Line, Col: kn.Column, Path: path, node: v,
	})
}

// zones reads zones: zone -> zone document plus names and records.
func (c *Config) zones(v, kn *yaml.Node) {
	m, ok := c.mapping(v, kn, "zones", "a mapping of zone names")
	if !ok {
		return
	}
	for zn, body := range c.pairs(m, "zones") {
		zone := zn.Value
		path := "zones." + pathKey(zone)
		if !c.segment(zn, path, "zone") {
			continue
		}
		z, ok := c.mapping(body, zn, path, "a mapping of the zone's fields, names and records")
		if !ok {
			c.markBroken(schema.ZoneKey(c.Prefix, zone))
			continue
		}
		doc, extra := c.split(z, path, "names", "records")
		if n, ok := extra["names"]; ok {
			c.names(zone, n, path+".names")
		}
		if r, ok := extra["records"]; ok {
			c.records(zone, r, path+".records")
		}
		if len(doc.Content) > 0 || len(extra) == 0 {
			c.add(schema.ZoneKey(c.Prefix, zone), zn, path, doc)
		}
	}
}

func (c *Config) names(zone string, p [2]*yaml.Node, path string) {
	m, ok := c.mapping(p[1], p[0], path, "a mapping of labels to names")
	if !ok {
		return
	}
	for ln, doc := range c.pairs(m, path) {
		label := ln.Value
		lpath := path + "." + pathKey(label)
		if d, ok := c.mapping(doc, ln, lpath, "a mapping of the name's fields"); ok && c.segment(ln, lpath, "label") {
			c.add(schema.NameKey(c.Prefix, zone, label), ln, lpath, d)
		}
	}
}

func (c *Config) records(zone string, p [2]*yaml.Node, path string) {
	m, ok := c.mapping(p[1], p[0], path, "a mapping of labels to record types")
	if !ok {
		return
	}
	for ln, types := range c.pairs(m, path) {
		label := ln.Value
		lpath := path + "." + pathKey(label)
		tm, ok := c.mapping(types, ln, lpath, "a mapping of record types (TXT, MX, ...)")
		if !ok || !c.segment(ln, lpath, "label") {
			continue
		}
		for tn, doc := range c.pairs(tm, lpath) {
			typ := tn.Value
			tpath := lpath + "." + pathKey(typ)
			if d, ok := c.mapping(doc, tn, tpath, "a mapping with values and ttl"); ok && c.segment(tn, tpath, "record type") {
				c.add(schema.RecordKey(c.Prefix, zone, label, typ), tn, tpath, d)
			}
		}
	}
}

// add turns a document node into the JSON value of key.
func (c *Config) add(key string, kn *yaml.Node, path string, doc *yaml.Node) {
	var buf bytes.Buffer
	if err := nodeJSON(&buf, doc, 0); err != nil {
		c.markBroken(key)
		var ne *nodeError
		if errors.As(err, &ne) {
			rel, _ := pathTo(doc, ne.node)
			c.at(ne.node, path+rel, ne.msg)
			return
		}
		c.at(kn, path, err.Error())
		return
	}
	c.Entries = append(c.Entries, &Entry{Key: key, Value: buf.String(), Line: kn.Line, Col: kn.Column, Path: path, node: doc})
}

// markBroken notes a key the file means but could not produce, so that
// the rejections of keys that depend on it are not reported as well.
func (c *Config) markBroken(key string) {
	if c.broken == nil {
		c.broken = map[string]bool{}
	}
	c.broken[key] = true
}

// mapping returns v as a mapping, or reports that one was wanted.
func (c *Config) mapping(v, kn *yaml.Node, path, want string) (*yaml.Node, bool) {
	v = deref(v)
	if v.Kind == yaml.MappingNode {
		return v, true
	}
	c.at(kn, path, "want "+want)
	return nil, false
}

// segment checks that a mapping key can be one part of an etcd key. The
// schema checks the rest; a '/' must be refused here, since it would move
// the value to another key ("eu/weight" is the weight of region "eu").
func (c *Config) segment(kn *yaml.Node, path, what string) bool {
	if kn.Value == "" || strings.Contains(kn.Value, "/") {
		c.at(kn, path, fmt.Sprintf("%s %q must be non-empty and without '/'", what, kn.Value))
		return false
	}
	return true
}

// pairs iterates over a mapping's entries, reporting and skipping keys that
// are not strings or are given twice.
func (c *Config) pairs(m *yaml.Node, path string) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(*yaml.Node, *yaml.Node) bool) {
		seen := map[string]bool{}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if err := checkKey(k, seen); err != nil {
				c.at(k, path, err.Error())
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// split separates the named entries (key and value nodes) from the rest of
// a mapping, which is returned as a new mapping node: the document.
func (c *Config) split(m *yaml.Node, path string, names ...string) (*yaml.Node, map[string][2]*yaml.Node) {
	doc := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: m.Line, Column: m.Column}
	extra := map[string][2]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && slices.Contains(names, k.Value) {
			if _, dup := extra[k.Value]; dup {
				c.at(k, path, fmt.Sprintf("key %q is given twice", k.Value))
				continue
			}
			extra[k.Value] = [2]*yaml.Node{k, v}
			continue
		}
		doc.Content = append(doc.Content, k, v)
	}
	return doc, extra
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// pathKey writes a mapping key as a path element, quoted when it holds a
// dot, as zone names do.
func pathKey(k string) string {
	if k == "" || strings.ContainsAny(k, ".[] \"") {
		return strconv.Quote(k)
	}
	return k
}
