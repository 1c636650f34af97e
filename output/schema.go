// Package output prints events and snapshot rows as aligned columns, tables,
// JSON lines or pretty JSON.
//
// An event type describes its own output with struct tags, as Inspektor Gadget's
// do: `json:"pid"` names the JSON field, `column:"pid,width:7,right"` the column.
// The tags are read once, with reflection, into a schema of field offsets; every
// event is then printed by reading its fields at those offsets, with no
// reflection and no encoding/json on the hot path. A field tagged json:"-"
// with a column tag exists only as a column.
package output

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

type kind int

const (
	kindString kind = iota
	kindInt
	kindUint
	kindBool
	kindFloat // float64 (an average)
	kindStrings
	kindStruct
	kindStructs // a slice of structs (a histogram's intervals): children's offsets are from each element
	kindRaw     // json.RawMessage or JSONText: JSON made by the gadget (a document of another schema), written as is; null when empty
	kindConst   // the same string in every event (IG's "type"), from the field's `const` tag; the field takes no room
)

// field is one JSON field of an event type, at a fixed offset from the start
// of the event (nested structs included), so any field is read in one step.
type field struct {
	json     string
	kind     kind
	size     uintptr // of ints
	offset   uintptr
	children []*field // kindStruct: offsets from the event's base; kindStructs: from each element's
	elemSize uintptr  // kindStructs

	column   string // "" when the field has no column
	width    int
	right    bool
	join     string // separator of kindStrings in columns
	walltime bool   // int64 nanoseconds printed as a time of day
	unit     string // `unit:"ns"` (us, ms, bytes): -F then takes durations or sizes
	constant string // kindConst: the value, from the `const` tag
	text     bool   // kindRaw: a JSONText, not a json.RawMessage
}

// JSONText is JSON made by the gadget, as json.RawMessage, but a string:
// a struct holding it stays comparable. Empty is null.
type JSONText string

// MarshalJSON writes the text as is, null when empty.
func (t JSONText) MarshalJSON() ([]byte, error) { return appendRaw(nil, []byte(t)), nil }

// UnmarshalJSON keeps the JSON as is.
func (t *JSONText) UnmarshalJSON(b []byte) error {
	*t = JSONText(b)
	return nil
}

// raw is a kindRaw field's JSON, not copied.
func raw(base unsafe.Pointer, f *field) []byte {
	if f.text {
		s := *at[JSONText](base, f)
		return unsafe.Slice(unsafe.StringData(string(s)), len(s))
	}
	return *at[json.RawMessage](base, f)
}

// composite says whether a field is not one value (a struct, a list of
// structs, a JSON document): it can be neither filtered nor sorted on.
func (f *field) composite() bool {
	return f.kind == kindStruct || f.kind == kindStructs || f.kind == kindRaw
}

// Schema is the printable shape of one event type.
type Schema struct {
	typ     reflect.Type
	fields  []*field
	columns map[string]*field // column name -> field, offsets from the event's base
	order   []string          // column names in declaration order
	byPath  map[string]*field // JSON field, dotted when nested (runtime.containerName) -> field
	paths   []string          // the keys of byPath in declaration order
}

// NewSchema reads the tags of struct type T. It panics on a malformed tag,
// which is a programming error found by every gadget's tests.
func NewSchema[T any]() *Schema {
	t := reflect.TypeFor[T]()
	s := &Schema{typ: t, columns: map[string]*field{}, byPath: map[string]*field{}}
	s.fields = s.walk(t, 0)
	s.addPaths(s.fields, "")
	return s
}

// addPaths names every field by its dotted JSON path, for -F and
// -o columns: nested structs' fields are runtime.containerName.
func (s *Schema) addPaths(fields []*field, prefix string) {
	for _, f := range fields {
		path := prefix + f.json
		s.byPath[path] = f
		s.paths = append(s.paths, path)
		if f.kind == kindStruct {
			s.addPaths(f.children, path+".")
		}
	}
}

// lookup finds a field by column name, else by JSON path (any case).
func (s *Schema) lookup(name string) (*field, bool) {
	if f, ok := s.columns[strings.ToLower(name)]; ok {
		return f, true
	}
	if f, ok := s.byPath[name]; ok {
		return f, true
	}
	for path, f := range s.byPath {
		if strings.EqualFold(path, name) {
			return f, true
		}
	}
	return nil, false
}

func (s *Schema) walk(t reflect.Type, base uintptr) []*field {
	var out []*field
	own := ownNames(t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			// Embedded without a name: its fields are ours (the common
			// header), but for those a field of our own shadows, as in
			// encoding/json (IG's "type" is the gadget's own where it
			// has one: tcpretrans's RETRANS or LOSS).
			for _, f := range s.walk(sf.Type, base+sf.Offset) {
				if !own[f.json] {
					out = append(out, f)
				}
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		columnOnly := name == "-" // a field for people only, e.g. text built for a column
		if columnOnly {
			name = ""
			if _, ok := sf.Tag.Lookup("column"); !ok {
				continue
			}
		}
		if name == "" && !columnOnly {
			continue
		}
		f := &field{json: name, offset: base + sf.Offset}
		if c, ok := sf.Tag.Lookup("const"); ok {
			// A constant: printed from the tag, never read from the event.
			f.kind, f.constant = kindConst, c
			if tag, ok := sf.Tag.Lookup("column"); ok {
				s.addColumn(f, tag)
			}
			if !columnOnly {
				out = append(out, f)
			}
			continue
		}
		switch sf.Type.Kind() {
		case reflect.String:
			f.kind = kindString
			if sf.Type == reflect.TypeFor[JSONText]() {
				f.kind, f.text = kindRaw, true
			}
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.kind, f.size = kindInt, sf.Type.Size()
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.kind, f.size = kindUint, sf.Type.Size()
		case reflect.Bool:
			f.kind = kindBool
		case reflect.Float64:
			f.kind = kindFloat
		case reflect.Slice:
			if sf.Type == reflect.TypeFor[json.RawMessage]() {
				f.kind = kindRaw
				break
			}
			switch elem := sf.Type.Elem(); elem.Kind() {
			case reflect.String:
				f.kind = kindStrings
			case reflect.Struct:
				f.kind, f.elemSize = kindStructs, elem.Size()
				f.children = s.walkElem(elem)
			default:
				panic(fmt.Sprintf("output: %s.%s: only slices of strings or structs are supported", t, sf.Name))
			}
		case reflect.Struct:
			f.kind = kindStruct
			f.children = s.walk(sf.Type, base+sf.Offset)
		default:
			panic(fmt.Sprintf("output: %s.%s: unsupported type %s", t, sf.Name, sf.Type))
		}
		f.unit = sf.Tag.Get("unit")
		if tag, ok := sf.Tag.Lookup("column"); ok {
			s.addColumn(f, tag)
		}
		if !columnOnly {
			out = append(out, f)
		}
	}
	return out
}

// ownNames are the JSON names of t's own fields, not of embedded structs.
func ownNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.Anonymous && name != "" && name != "-" {
			names[name] = true
		}
	}
	return names
}

// walkElem reads the fields of a slice's element type. They have no
// columns: a schema's columns are one value per event.
func (s *Schema) walkElem(t reflect.Type) []*field {
	inner := &Schema{typ: t, columns: map[string]*field{}}
	fields := inner.walk(t, 0)
	if len(inner.order) > 0 {
		panic(fmt.Sprintf("output: %s: fields of a slice's elements cannot be columns", t))
	}
	return fields
}

// addColumn parses `column:"name,width:N,right,join:|,walltime"`.
func (s *Schema) addColumn(f *field, tag string) {
	parts := strings.Split(tag, ",")
	f.column = parts[0]
	f.join = " "
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, ":")
		switch k {
		case "width":
			n, err := strconv.Atoi(v)
			if err != nil {
				panic(fmt.Sprintf("output: column %s: bad width %q", f.column, v))
			}
			f.width = n
		case "right":
			f.right = true
		case "join":
			f.join = v
		case "walltime":
			f.walltime = true
		default:
			panic(fmt.Sprintf("output: column %s: unknown option %q", f.column, k))
		}
	}
	if _, dup := s.columns[f.column]; dup {
		panic(fmt.Sprintf("output: column %s declared twice", f.column))
	}
	s.columns[f.column] = f
	s.order = append(s.order, f.column)
}

// Check says whether f can print this schema: every column it names exists.
func (s *Schema) Check(f Format) error {
	_, err := s.resolveColumns(f.Columns, nil)
	return err
}

// Columns lists every column name in declaration order.
func (s *Schema) Columns() []string { return append([]string(nil), s.order...) }

// groups are the names that stand for several columns: a nested struct's
// (runtime: runtime, containerid, container, image; k8s: its three).
var groups = []string{"runtime", "k8s"}

// resolveColumns turns -o columns=... into fields: names of columns, of
// groups, or JSON paths of fields that have no column. When every name
// starts with + or -, they add to or take from defaults (the gadget's).
// An unknown name is an error naming the valid ones.
func (s *Schema) resolveColumns(names, defaults []string) ([]*field, error) {
	relative := len(names) > 0
	for _, n := range names {
		if n = strings.TrimSpace(n); !strings.HasPrefix(n, "+") && !strings.HasPrefix(n, "-") {
			relative = false
		}
	}
	var out []*field
	add := func(fs []*field) {
		for _, f := range fs {
			if !slices.ContainsFunc(out, func(g *field) bool { return g.column == f.column }) {
				out = append(out, f)
			}
		}
	}
	if relative {
		fs, err := s.expand(defaults)
		if err != nil {
			return nil, err
		}
		add(fs)
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		remove := relative && strings.HasPrefix(n, "-")
		if relative {
			n = n[1:]
		}
		fs, err := s.expand([]string{n})
		if err != nil {
			return nil, err
		}
		if remove {
			out = slices.DeleteFunc(out, func(g *field) bool {
				return slices.ContainsFunc(fs, func(f *field) bool { return f.column == g.column })
			})
			continue
		}
		add(fs)
	}
	return out, nil
}

// expand resolves names (columns, groups, JSON paths) into column fields.
func (s *Schema) expand(names []string) ([]*field, error) {
	out := make([]*field, 0, len(names))
	for _, n := range names {
		n = strings.TrimSpace(n)
		if g := strings.ToLower(n); slices.Contains(groups, g) {
			if parent, ok := s.byPath[g]; ok && parent.kind == kindStruct {
				for _, c := range parent.children {
					if c.column != "" {
						out = append(out, c)
					}
				}
				continue
			}
		}
		f, ok := s.lookup(n)
		if !ok || (f.kind == kindStructs || f.kind == kindRaw) && f.column == "" {
			return nil, fmt.Errorf("unknown column %q; valid columns: %s", n, strings.Join(s.columnNames(), ","))
		}
		if f.column == "" {
			// a field without a column of its own: shown under its path
			c := *f
			c.column = n
			f = &c
		}
		out = append(out, f)
	}
	return out, nil
}

// columnNames are what -o columns= takes: the columns, the groups, and the
// JSON fields that have no column.
func (s *Schema) columnNames() []string {
	out := append([]string(nil), s.order...)
	for _, g := range groups {
		if f, ok := s.byPath[g]; ok && f.kind == kindStruct {
			out = append(out, g)
		}
	}
	for _, path := range s.paths {
		if f := s.byPath[path]; f.column == "" && !f.composite() && s.columns[path] == nil {
			out = append(out, path)
		}
	}
	return out
}

// at returns a pointer to the field's value in the event at base.
func at[V any](base unsafe.Pointer, f *field) *V {
	return (*V)(unsafe.Add(base, f.offset))
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// FieldDoc is one row of a schema's reference: a JSON field (dotted when
// nested, "" for a column-only field), its column ("" for none), and what
// it means (the field's `desc` tag).
type FieldDoc struct {
	JSON, Column, Desc string
}

// Doc lists the schema's fields in declaration order, for the reference of
// ig's fields (docs/fields.md). It reads the tags again: it is not on any
// hot path.
func (s *Schema) Doc() []FieldDoc { return docOf(s.typ, "") }

func docOf(t reflect.Type, prefix string) []FieldDoc {
	var out []FieldDoc
	own := ownNames(t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, d := range docOf(sf.Type, prefix) {
				if !own[strings.TrimPrefix(d.JSON, prefix)] {
					out = append(out, d)
				}
			}
			continue
		}
		column, _, _ := strings.Cut(sf.Tag.Get("column"), ",")
		if !sf.IsExported() || name == "" || name == "-" && column == "" {
			continue
		}
		if _, constant := sf.Tag.Lookup("const"); sf.Type.Kind() == reflect.Struct && !constant {
			out = append(out, docOf(sf.Type, prefix+name+".")...)
			continue
		}
		if sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct {
			out = append(out, FieldDoc{JSON: prefix + name, Desc: sf.Tag.Get("desc")})
			out = append(out, docOf(sf.Type.Elem(), prefix+name+"[].")...)
			continue
		}
		json := prefix + name
		if name == "-" {
			json = ""
		}
		out = append(out, FieldDoc{JSON: json, Column: column, Desc: sf.Tag.Get("desc")})
	}
	return out
}
