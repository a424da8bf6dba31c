package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/glb-dns/glb/store/schema/yamlconf"
)

// Output formats of -o, as kubectl and etcdctl name them.
const (
	outTable = "table"
	outJSON  = "json"
	outYAML  = "yaml"
)

// outputFlag adds -o to a command's flags.
func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("o", outTable, "output format: table, json or yaml")
}

func checkOutput(o string) error {
	switch o {
	case outTable, outJSON, outYAML:
		return nil
	}
	return fmt.Errorf("%w: -o %q: want table, json or yaml", errUsage, o)
}

// writeDoc writes v (a json.RawMessage as it is, anything else through
// encoding/json) as indented JSON or as YAML with the same field names.
func (a *app) writeDoc(format string, v any) error {
	raw, ok := v.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
	}
	var out []byte
	switch format {
	case outJSON:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		out = append(buf.Bytes(), '\n')
	case outYAML:
		var err error
		if out, err = yamlconf.JSONToYAML(raw); err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
	default:
		return fmt.Errorf("%w: -o %q: want table, json or yaml", errUsage, format)
	}
	if _, err := a.stdout.Write(out); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
