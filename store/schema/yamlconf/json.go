package yamlconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxDepth bounds nesting, so that a file of aliases cannot make the
// conversion recurse without end; etcd documents are a few levels deep.
const maxDepth = 32

// nodeError is a conversion error at a node of the file.
type nodeError struct {
	node *yaml.Node
	msg  string
}

func (e *nodeError) Error() string { return e.msg }

// nodeJSON writes n as compact JSON. Numbers keep the text they have in the
// file when it is a JSON number already ("51.51" stays 51.51), so that a
// value survives export and apply unchanged.
func nodeJSON(buf *bytes.Buffer, n *yaml.Node, depth int) error {
	if depth > maxDepth {
		return &nodeError{n, fmt.Sprintf("nested more than %d levels deep", maxDepth)}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			buf.WriteString("null")
			return nil
		}
		return nodeJSON(buf, n.Content[0], depth+1)
	case yaml.AliasNode:
		return nodeJSON(buf, n.Alias, depth+1)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := checkKey(k, seen); err != nil {
				return err
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k.Value)
			buf.WriteByte(':')
			if err := nodeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := nodeJSON(buf, v, depth+1); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return scalarJSON(buf, n)
	default:
		return &nodeError{n, "unexpected YAML node"}
	}
	return nil
}

// checkKey refuses what JSON objects cannot hold: keys that are not plain
// strings, merge keys, and a key given twice (YAML forbids it; taking the
// last one silently would hide a mistake).
func checkKey(k *yaml.Node, seen map[string]bool) error {
	switch {
	case k.Kind != yaml.ScalarNode:
		return &nodeError{k, "a mapping key must be a plain string"}
	case k.ShortTag() == "!!merge":
		return &nodeError{k, "merge keys (<<) are not supported"}
	case seen[k.Value]:
		return &nodeError{k, fmt.Sprintf("key %q is given twice", k.Value)}
	}
	seen[k.Value] = true
	return nil
}

func scalarJSON(buf *bytes.Buffer, n *yaml.Node) error {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!timestamp":
		// A timestamp-looking scalar is text to glb, as in JSON.
		writeString(buf, n.Value)
	case "!!null":
		buf.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return &nodeError{n, fmt.Sprintf("%q is not a boolean", n.Value)}
		}
		buf.WriteString(strconv.FormatBool(b))
	case "!!int", "!!float":
		if isJSONNumber(n.Value) {
			buf.WriteString(n.Value)
			return nil
		}
		// YAML spellings JSON lacks (0x1f, 1_000, .5): take the value.
		var v any
		if err := n.Decode(&v); err != nil {
			return &nodeError{n, fmt.Sprintf("%q is not a number", n.Value)}
		}
		if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return &nodeError{n, fmt.Sprintf("%q is not a finite number", n.Value)}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return &nodeError{n, fmt.Sprintf("%q is not a number JSON can hold", n.Value)}
		}
		buf.Write(b)
	default:
		return &nodeError{n, fmt.Sprintf("tag %s is not supported", tag)}
	}
	return nil
}

// isJSONNumber reports whether s is a number literal exactly as JSON
// writes it.
func isJSONNumber(s string) bool {
	if s == "" || !json.Valid([]byte(s)) {
		return false
	}
	c := s[0]
	return c == '-' || c >= '0' && c <= '9'
}

func writeString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// jsonToNode turns one JSON value into YAML nodes, keeping the order of
// object fields as stored, and numbers as written.
func jsonToNode(raw []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := readJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return n, nil
}

func readJSON(dec *json.Decoder, depth int) (*yaml.Node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested more than %d levels deep", maxDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	switch v := t.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v == '{' {
			n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		for dec.More() {
			if v == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("bad JSON: %w", err)
				}
				n.Content = append(n.Content, strNode(k.(string)))
			}
			c, err := readJSON(dec, depth+1)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		return n, nil
	case string:
		return strNode(v), nil
	case json.Number:
		tag := "!!int"
		if _, err := strconv.ParseInt(v.String(), 10, 64); err != nil {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}
