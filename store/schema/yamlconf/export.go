package yamlconf

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/glb-dns/glb/store/schema"
)

// Skipped is a key Export could not write into the file, and why.
type Skipped struct {
	Key    string
	Reason string
}

// flowWidth is the widest a mapping or list may be to be written on one
// line ({regions: [us-east, eu-west], policy: geo}); wider ones are
// written as blocks, one field per line, which diff better.
const flowWidth = 72

type regionOut struct {
	doc    *yaml.Node
	weight *yaml.Node
}

type zoneOut struct {
	doc     *yaml.Node
	names   map[string]*yaml.Node
	records map[string]map[string]*yaml.Node
}

// Export writes kvs (full etcd key -> value: the keys under
// <prefix>regions/ and <prefix>zones/) as one YAML document in the layout
// Parse reads, sorted by name, fields in the order they are stored. Keys it
// cannot place are returned as skipped: keys outside the schema's layout,
// and documents that are not JSON objects. Every other value is written as
// it is, valid or not, so that export is a faithful copy; Parse of the
// output gives back the same keys and values (JSON compacted, a weight's
// surrounding space trimmed).
func Export(prefix string, kvs map[string]string) ([]byte, []Skipped, error) {
	regions := map[string]*regionOut{}
	zones := map[string]*zoneOut{}
	zoneOf := func(z string) *zoneOut {
		if zones[z] == nil {
			zones[z] = &zoneOut{names: map[string]*yaml.Node{}, records: map[string]map[string]*yaml.Node{}}
		}
		return zones[z]
	}
	var skipped []Skipped
	for _, key := range slices.Sorted(maps.Keys(kvs)) {
		value := kvs[key]
		// A key whose parts are malformed (an upper-case region id) still
		// has a place in the file, where validate will point at it.
		k, _ := schema.ParseKey(prefix, key)
		if k.Kind == schema.KindWeight {
			if regions[k.Region] == nil {
				regions[k.Region] = &regionOut{}
			}
			regions[k.Region].weight = weightNode(value)
			continue
		}
		var doc *yaml.Node
		switch k.Kind {
		case schema.KindRegion, schema.KindZone, schema.KindName, schema.KindRecord:
			n, err := jsonToNode([]byte(value))
			if err == nil && n.Kind != yaml.MappingNode {
				err = fmt.Errorf("not a JSON object")
			}
			if err != nil {
				skipped = append(skipped, Skipped{Key: key, Reason: err.Error()})
				continue
			}
			doc = n
		default:
			skipped = append(skipped, Skipped{Key: key, Reason: "not a configuration key of the glb schema"})
			continue
		}
		switch k.Kind {
		case schema.KindRegion:
			if regions[k.Region] == nil {
				regions[k.Region] = &regionOut{}
			}
			regions[k.Region].doc = doc
		case schema.KindZone:
			zoneOf(k.Zone).doc = doc
		case schema.KindName:
			zoneOf(k.Zone).names[k.Label] = doc
		case schema.KindRecord:
			z := zoneOf(k.Zone)
			if z.records[k.Label] == nil {
				z.records[k.Label] = map[string]*yaml.Node{}
			}
			z.records[k.Label][k.Type] = doc
		}
	}
	// An empty document next to a weight, names or records has no place
	// in the layout: the mapping would read back as those alone.
	const emptyDoc = "an empty document ({}) cannot be written next to %s; it would be rejected anyway"
	for id, r := range regions {
		if r.doc != nil && len(r.doc.Content) == 0 && r.weight != nil {
			skipped = append(skipped, Skipped{Key: schema.RegionKey(prefix, id), Reason: fmt.Sprintf(emptyDoc, "a weight")})
			r.doc = nil
		}
	}
	for name, z := range zones {
		if z.doc != nil && len(z.doc.Content) == 0 && len(z.names)+len(z.records) > 0 {
			skipped = append(skipped, Skipped{Key: schema.ZoneKey(prefix, name), Reason: fmt.Sprintf(emptyDoc, "names or records")})
			z.doc = nil
		}
	}
	slices.SortFunc(skipped, func(a, b Skipped) int { return strings.Compare(a.Key, b.Key) })

	root := mapNode()
	if len(regions) > 0 {
		root.Content = append(root.Content, strNode("regions"), regionsNode(regions))
	}
	if len(zones) > 0 {
		root.Content = append(root.Content, strNode("zones"), zonesNode(zones))
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: "glb configuration: one etcd key per document (glbctl export)"}
	out, err := encode2(doc)
	return out, skipped, err
}

// JSONToYAML writes one JSON value as YAML, object fields in their order
// and numbers as written, for glbctl's -o yaml.
func JSONToYAML(raw []byte) ([]byte, error) {
	n, err := jsonToNode(raw)
	if err != nil {
		return nil, err
	}
	return encode2(n)
}

// encode2 writes a YAML node indented by two spaces.
func encode2(n *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// weightNode writes a valid weight as a number and anything else as the
// string it is, for validate to refuse.
func weightNode(v string) *yaml.Node {
	v = strings.TrimSpace(v)
	if _, err := schema.ParseWeight([]byte(v)); err == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: v}
	}
	return strNode(v)
}

func regionsNode(regions map[string]*regionOut) *yaml.Node {
	out := mapNode()
	for _, id := range slices.Sorted(maps.Keys(regions)) {
		r := regions[id]
		n := mapNode()
		if r.doc != nil {
			styleChildren(r.doc)
			n.Content = append(n.Content, r.doc.Content...)
		}
		if r.weight != nil {
			n.Content = append(n.Content, strNode("weight"), r.weight)
		}
		out.Content = append(out.Content, strNode(id), n)
	}
	return out
}

func zonesNode(zones map[string]*zoneOut) *yaml.Node {
	out := mapNode()
	for _, name := range slices.Sorted(maps.Keys(zones)) {
		z := zones[name]
		n := mapNode()
		if z.doc != nil {
			styleChildren(z.doc)
			n.Content = append(n.Content, z.doc.Content...)
		}
		if len(z.names) > 0 {
			names := mapNode()
			for _, label := range slices.Sorted(maps.Keys(z.names)) {
				names.Content = append(names.Content, strNode(label), style(z.names[label]))
			}
			n.Content = append(n.Content, strNode("names"), names)
		}
		if len(z.records) > 0 {
			records := mapNode()
			for _, label := range slices.Sorted(maps.Keys(z.records)) {
				types := mapNode()
				for _, t := range slices.Sorted(maps.Keys(z.records[label])) {
					types.Content = append(types.Content, strNode(t), style(z.records[label][t]))
				}
				records.Content = append(records.Content, strNode(label), types)
			}
			n.Content = append(n.Content, strNode("records"), records)
		}
		out.Content = append(out.Content, strNode(name), n)
	}
	return out
}

func mapNode() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

// style writes n on one line when it is short enough, else its children
// each on their own.
func style(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.ScalarNode {
		return n
	}
	// A list of plain values (addresses, regions) reads best on one line
	// however long; the encoder wraps it if need be.
	if w := width(n); w >= 0 && (w <= flowWidth || scalars(n)) {
		n.Style = yaml.FlowStyle
		return n
	}
	styleChildren(n)
	return n
}

func styleChildren(n *yaml.Node) {
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 {
			continue // keys
		}
		style(c)
	}
}

func scalars(n *yaml.Node) bool {
	if n.Kind != yaml.SequenceNode {
		return false
	}
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return false
		}
	}
	return true
}

// width estimates the length of n written in flow style, or -1 when it
// should not be (text spanning lines).
func width(n *yaml.Node) int {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.ContainsAny(n.Value, "\n\r") {
			return -1
		}
		return len(n.Value) + 2 // room for quotes
	case yaml.MappingNode, yaml.SequenceNode:
		w := 2
		for _, c := range n.Content {
			cw := width(c)
			if cw < 0 {
				return -1
			}
			w += cw + 2
		}
		return w
	}
	return -1
}
