package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode parses and validates the value stored at a key of the given kind. It
// returns *Region, int (a weight), float64 (a load), *Zone, *Name, *Record, *Schedule, *ProberInfo or
// *HealthReport. JSON is
// decoded strictly: an unknown field is an error, so a typo such as "wieght"
// is reported instead of silently ignored.
func Decode(k Key, raw []byte) (any, error) {
	if len(raw) > MaxValueBytes {
		return nil, fmt.Errorf("value of %d bytes is larger than %d", len(raw), MaxValueBytes)
	}
	switch k.Kind {
	case KindRegion:
		var r Region
		if err := decodeJSON(raw, &r); err != nil {
			return nil, err
		}
		return &r, r.Validate()
	case KindWeight:
		return ParseWeight(raw)
	case KindLoad:
		return ParseLoad(raw)
	case KindSchedule:
		var s Schedule
		if err := decodeJSON(raw, &s); err != nil {
			return nil, err
		}
		return &s, s.Validate()
	case KindZone:
		var z Zone
		if err := decodeJSON(raw, &z); err != nil {
			return nil, err
		}
		return &z, z.Validate(k.Zone)
	case KindName:
		var n Name
		if err := decodeJSON(raw, &n); err != nil {
			return nil, err
		}
		return &n, n.Validate()
	case KindRecord:
		var r Record
		if err := decodeJSON(raw, &r); err != nil {
			return nil, err
		}
		return &r, r.Validate(k.Type)
	case KindProber:
		var p ProberInfo
		if err := decodeJSON(raw, &p); err != nil {
			return nil, err
		}
		return &p, p.Validate()
	case KindHealth:
		var h HealthReport
		if err := decodeJSON(raw, &h); err != nil {
			return nil, err
		}
		return &h, h.Validate()
	}
	if v, ok, err := decodeTraffic(k, raw); ok {
		return v, err
	}
	return nil, fmt.Errorf("%w: kind %s has no decoder", ErrBadKey, k.Kind)
}

// decodeJSON decodes exactly one JSON object with no unknown fields.
func decodeJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("bad JSON: trailing data after the object")
	}
	return nil
}
