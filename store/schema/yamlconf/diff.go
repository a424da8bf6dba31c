package yamlconf

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"

	"github.com/glb-dns/glb/store/schema"
)

// The kinds of a FieldChange, as a diff marks them.
const (
	FieldAdded   = '+'
	FieldRemoved = '-'
	FieldChanged = '~'
)

// FieldChange is one difference between two values of a key, at the level
// of the fields of the file: regions.eu-west.weight: 100 → 0.
type FieldChange struct {
	Op   byte   // FieldAdded, FieldRemoved or FieldChanged
	Path string // the field's path in the file, e.g. regions.eu-west.check.port
	Old  string // the old value as compact JSON; "" when added
	New  string // the new value as compact JSON; "" when removed
}

// KeyPath returns the path in the file of an etcd key: regions.eu-west,
// regions.eu-west.weight, zones."gslb.example.test".names.www. A key
// outside the layout is returned as it is.
func KeyPath(prefix, key string) string {
	k, err := schema.ParseKey(prefix, key)
	if err != nil {
		return key
	}
	switch k.Kind {
	case schema.KindRegion:
		return "regions." + pathKey(k.Region)
	case schema.KindWeight:
		return "regions." + pathKey(k.Region) + ".weight"
	case schema.KindZone:
		return "zones." + pathKey(k.Zone)
	case schema.KindName:
		return "zones." + pathKey(k.Zone) + ".names." + pathKey(k.Label)
	case schema.KindRecord:
		return "zones." + pathKey(k.Zone) + ".records." + pathKey(k.Label) + "." + pathKey(k.Type)
	}
	return key
}

// DiffKey lists the field-level differences between two values of one
// key, in field order: an added key (old == "", hadOld false) is one
// addition of the whole value, a removed one one removal; objects are
// compared field by field, lists element by element when their lengths
// agree and as a whole otherwise. Values that are not JSON (a weight's
// text aside) are compared as a whole.
func DiffKey(prefix, key, old, new string, hadOld, hasNew bool) []FieldChange {
	path := KeyPath(prefix, key)
	switch {
	case !hadOld:
		return []FieldChange{{Op: FieldAdded, Path: path, New: compact(new)}}
	case !hasNew:
		return []FieldChange{{Op: FieldRemoved, Path: path, Old: compact(old)}}
	}
	o, errO := decodeAny(old)
	n, errN := decodeAny(new)
	if errO != nil || errN != nil {
		return []FieldChange{{Op: FieldChanged, Path: path, Old: strconv.Quote(old), New: strconv.Quote(new)}}
	}
	var out []FieldChange
	diffValue(&out, path, o, n)
	if len(out) == 0 && compact(old) != compact(new) {
		// Only the order of fields differs: show the whole value, which
		// is what will be written.
		out = append(out, FieldChange{Op: FieldChanged, Path: path, Old: compact(old), New: compact(new)})
	}
	return out
}

func diffValue(out *[]FieldChange, path string, o, n any) {
	switch ov := o.(type) {
	case map[string]any:
		nv, ok := n.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(maps.Keys(ov))
		for k := range nv {
			if _, ok := ov[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			ovk, inOld := ov[k]
			nvk, inNew := nv[k]
			p := path + "." + pathKey(k)
			switch {
			case !inOld:
				*out = append(*out, FieldChange{Op: FieldAdded, Path: p, New: encode(nvk)})
			case !inNew:
				*out = append(*out, FieldChange{Op: FieldRemoved, Path: p, Old: encode(ovk)})
			default:
				diffValue(out, p, ovk, nvk)
			}
		}
		return
	case []any:
		nv, ok := n.([]any)
		if !ok || len(nv) != len(ov) {
			break
		}
		for i := range ov {
			diffValue(out, path+"["+strconv.Itoa(i)+"]", ov[i], nv[i])
		}
		return
	}
	if eo, en := encode(o), encode(n); eo != en {
		*out = append(*out, FieldChange{Op: FieldChanged, Path: path, Old: eo, New: en})
	}
}

// decodeAny decodes one JSON value, keeping numbers as written.
func decodeAny(s string) (any, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func encode(v any) string {
	b, _ := json.Marshal(v) // values decoded from JSON always encode
	return string(b)
}

// compact returns a JSON value compacted, or a value that is not JSON
// quoted.
func compact(v string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(v)) != nil {
		return strconv.Quote(v)
	}
	return b.String()
}
