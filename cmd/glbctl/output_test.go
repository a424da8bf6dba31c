package main

import (
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// decodeOutput reads what -o json or -o yaml wrote into v, through JSON
// field names in both cases: YAML is decoded generically and re-encoded
// as JSON, so that a YAML field with the wrong name is not silently
// skipped by yaml.v3's own lower-casing of Go names.
func decodeOutput(format, text string, v any) error {
	switch format {
	case "json":
		return json.Unmarshal([]byte(text), v)
	case "yaml":
		var generic any
		if err := yaml.Unmarshal([]byte(text), &generic); err != nil {
			return err
		}
		raw, err := json.Marshal(generic)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, v)
	}
	return fmt.Errorf("format %q", format)
}
