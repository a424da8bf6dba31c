package yamlconf

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/glb-dns/glb/store/schema"
)

// documentTypes are the Go types schema.Decode reads each kind of document
// into, whose JSON field names are the valid fields of the file; extraFields
// are the ones the file adds to a document (its other keys).
var (
	documentTypes = map[schema.Kind]reflect.Type{
		schema.KindRegion: reflect.TypeFor[schema.Region](),
		schema.KindZone:   reflect.TypeFor[schema.Zone](),
		schema.KindName:   reflect.TypeFor[schema.Name](),
		schema.KindRecord: reflect.TypeFor[schema.Record](),
	}
	extraFields = map[schema.Kind][]string{
		schema.KindRegion: {"weight"},
		schema.KindZone:   {"names", "records"},
	}
)

var (
	// unknownField is encoding/json's message for a field the type lacks.
	unknownField = regexp.MustCompile(`unknown field "([^"]*)"`)
	// unknownValue is the schema's message for a value outside a list, as
	// in `policy "goe" is unknown (supported: [geo latency])` or
	// `record type "TXX" is not supported (want one of A, AAAA)`.
	unknownValue = regexp.MustCompile(`"([^"]*)" is (?:unknown|not supported) \((?:supported: \[([^\]]*)\]|want one of ([^)]*))\)`)
	// enumValue is the schema's other form of it, as in
	// `on_all_down "fail": want fail_open, fallback, nodata or servfail`
	// or `type "htp" is not one of http, https, tcp`.
	enumValue = regexp.MustCompile(`"([^"]*)"(?:: want| is not one of) ([a-z0-9_]+(?:, [a-z0-9_]+)*(?:,? or [a-z0-9_]+)?)$`)
	// missingRegion is the schema's message for a name or weight whose
	// region does not exist.
	missingRegion = regexp.MustCompile(`region "([^"]*)" does not exist`)
	// jsonType is encoding/json's message for a value of the wrong type.
	jsonType = regexp.MustCompile(`^json: cannot unmarshal (\w+) into Go (?:struct field [A-Za-z0-9_.]+|value) of type ([\w.\[\]]+)$`)
)

// suggest returns a "did you mean" for msg, a schema message about the
// document of kind at rel (the path of the offending node inside it);
// regions are the ids of the file's regions.
func suggest(kind schema.Kind, rel, msg string, regions []string) string {
	words := func(list string) []string {
		return strings.FieldsFunc(strings.ReplaceAll(list, " or ", " "), func(r rune) bool { return r == ' ' || r == ',' })
	}
	if m := unknownValue.FindStringSubmatch(msg); m != nil {
		return DidYouMean(m[1], words(m[2]+m[3]))
	}
	if m := enumValue.FindStringSubmatch(msg); m != nil {
		return DidYouMean(m[1], words(m[2]))
	}
	if m := missingRegion.FindStringSubmatch(msg); m != nil {
		return DidYouMean(m[1], regions)
	}
	m := unknownField.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	t, ok := documentTypes[kind]
	if !ok {
		return ""
	}
	// rel ends with the unknown field itself; its parent is the mapping
	// whose type lists the valid names.
	parts := strings.Split(strings.TrimPrefix(rel, "."), ".")
	var valid []string
	if len(parts) <= 1 {
		valid = extraFields[kind]
	}
	for _, p := range parts[:max(0, len(parts)-1)] {
		name, _, _ := strings.Cut(p, "[")
		if t = fieldType(t, name); t == nil {
			return ""
		}
	}
	return DidYouMean(m[1], append(valid, jsonFields(t)...))
}

// plainMessage rewrites the schema's message about a JSON value in the
// words of the file: the file is not JSON when it is YAML, and its reader
// knows no Go types.
func plainMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "bad JSON: ")
	if m := jsonType.FindStringSubmatch(msg); m != nil {
		return "want " + typeWord(m[2]) + ", not " + article(m[1])
	}
	return strings.TrimPrefix(msg, "json: ")
}

func typeWord(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string", goType == "netip.Addr", goType == "schema.Duration":
		return "a string"
	case goType == "bool":
		return "true or false"
	}
	return "a mapping"
}

func article(jsonKind string) string {
	switch jsonKind {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "number":
		return "a number"
	case "bool":
		return "true or false"
	}
	return "a " + jsonKind
}

// fieldType returns the type of the field whose JSON name is name, with
// pointers and slices taken off, or nil.
func fieldType(t reflect.Type, name string) reflect.Type {
	for _, f := range structFields(t) {
		if jsonName(f) == name {
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			return ft
		}
	}
	return nil
}

// jsonFields returns the JSON names of t's fields.
func jsonFields(t reflect.Type) []string {
	var out []string
	for _, f := range structFields(t) {
		out = append(out, jsonName(f))
	}
	return out
}

// structFields lists t's encoded fields, those of embedded structs
// included, as encoding/json sees them.
func structFields(t reflect.Type) []reflect.StructField {
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []reflect.StructField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "":
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			out = append(out, structFields(ft)...)
		default:
			out = append(out, f)
		}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}
