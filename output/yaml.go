package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unsafe"
)

// appendYAML appends the event at base as a YAML block mapping, each line
// indented by indent spaces. Strings are double-quoted as JSON quotes them
// (a YAML double-quoted scalar reads them back alike), with what YAML
// refuses escaped too; a gadget's raw JSON document is written inline, as
// YAML's flow style. Like appendJSON, it reads fields at their offsets: no
// reflection per event.
func appendYAML(b []byte, base unsafe.Pointer, fields []*field, indent int) []byte {
	if len(fields) == 0 {
		return b
	}
	for _, f := range fields {
		b = append(b, spaces[:indent]...)
		b = append(b, f.json...)
		b = append(b, ':')
		switch f.kind {
		case kindStrings:
			list := *at[[]string](base, f)
			if len(list) == 0 {
				b = append(b, " []\n"...)
				continue
			}
			b = append(b, '\n')
			for _, s := range list {
				b = append(b, spaces[:indent]...)
				b = append(b, "- "...)
				b = appendYAMLString(b, s)
				b = append(b, '\n')
			}
		case kindStruct:
			if len(f.children) == 0 {
				b = append(b, " {}\n"...)
				continue
			}
			b = append(b, '\n')
			b = appendYAML(b, base, f.children, indent+2)
		case kindStructs:
			elems := *at[[]byte](base, f) // only the slice header is read
			if len(elems) == 0 {
				b = append(b, " []\n"...)
				continue
			}
			b = append(b, '\n')
			data := unsafe.Pointer(unsafe.SliceData(elems))
			for i := 0; i < len(elems); i++ {
				b = appendYAMLItem(b, unsafe.Add(data, uintptr(i)*f.elemSize), f.children, indent)
			}
		case kindRaw:
			b = append(b, ' ')
			b = appendYAMLRaw(b, raw(base, f))
			b = append(b, '\n')
		case kindString:
			b = append(b, ' ')
			b = appendYAMLString(b, *at[string](base, f))
			b = append(b, '\n')
		case kindConst:
			b = append(b, ' ')
			b = appendYAMLString(b, f.constant)
			b = append(b, '\n')
		default:
			b = append(b, ' ')
			b = appendJSONValue(b, base, f) // numbers and booleans: JSON's are YAML's
			b = append(b, '\n')
		}
	}
	return b
}

// appendYAMLItem appends one element of a sequence: "- " before its first
// key, its other keys under it.
func appendYAMLItem(b []byte, base unsafe.Pointer, fields []*field, indent int) []byte {
	if len(fields) == 0 {
		b = append(b, spaces[:indent]...)
		return append(b, "- {}\n"...)
	}
	start := len(b)
	b = appendYAML(b, base, fields, indent+2)
	dashFirstKey(b, start, indent)
	return b
}

// dashFirstKey makes the mapping written from start, indented by indent+2,
// an element of a sequence at indent: "- " ends its first line's indent.
func dashFirstKey(b []byte, start, indent int) {
	copy(b[start+indent:], "- ")
}

// yamlDocument appends the event at base as one YAML document.
func yamlDocument(b []byte, base unsafe.Pointer, fields []*field) []byte {
	b = append(b, "---\n"...)
	return appendYAML(b, base, fields, 0)
}

// JSONToYAML writes a JSON document as block YAML, as -o yaml writes
// events: keys in their JSON order (sigs.k8s.io/yaml sorts them), strings
// double-quoted (appendYAMLString), numbers as JSON wrote them. For what
// is built as JSON first (a process tree).
func JSONToYAML(js []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	root, err := readJSONNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("JSON to YAML: more than one value")
	}
	b := []byte("---\n")
	switch {
	case root.kind == '{' && len(root.keys) > 0:
		b = appendYAMLMap(b, root, 0)
	case root.kind == '[' && len(root.items) > 0:
		b = appendYAMLSeq(b, root, 0)
	default:
		b = append(appendYAMLScalar(b, root), '\n')
	}
	return b, nil
}

// jsonNode is a JSON value with its object's keys in order.
type jsonNode struct {
	kind  byte // '{', '[', '"' (a string), or 0 (text: a number, true, false, null)
	text  string
	keys  []string
	items []*jsonNode // an object's values, or an array's elements
}

func readJSONNode(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("JSON to YAML: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: byte(t)}
		for dec.More() {
			if n.kind == '{' {
				k, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("JSON to YAML: %w", err)
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readJSONNode(dec)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("JSON to YAML: %w", err)
		}
		return n, nil
	case string:
		return &jsonNode{kind: '"', text: t}, nil
	case json.Number:
		return &jsonNode{text: t.String()}, nil
	case bool:
		return &jsonNode{text: strconv.FormatBool(t)}, nil
	case nil:
		return &jsonNode{text: "null"}, nil
	}
	return nil, fmt.Errorf("JSON to YAML: unexpected %v", tok)
}

func appendYAMLScalar(b []byte, n *jsonNode) []byte {
	switch {
	case n.kind == '"':
		return appendYAMLString(b, n.text)
	case n.kind == '{':
		return append(b, "{}"...)
	case n.kind == '[':
		return append(b, "[]"...)
	}
	return append(b, n.text...)
}

// block says whether n is written on the lines under its key or dash.
func (n *jsonNode) block() bool {
	return (n.kind == '{' || n.kind == '[') && len(n.items) > 0
}

func appendYAMLMap(b []byte, n *jsonNode, indent int) []byte {
	for i, k := range n.keys {
		b = append(b, spaces[:indent]...)
		if isPlainKey(k) {
			b = append(b, k...)
		} else {
			b = appendYAMLString(b, k)
		}
		b = append(b, ':')
		v := n.items[i]
		switch {
		case v.block() && v.kind == '{':
			b = appendYAMLMap(append(b, '\n'), v, indent+2)
		case v.block():
			b = appendYAMLSeq(append(b, '\n'), v, indent)
		default:
			b = append(appendYAMLScalar(append(b, ' '), v), '\n')
		}
	}
	return b
}

// appendYAMLSeq writes n's elements, each after "- " at indent: an
// object's first key on the dash's line, as appendYAMLItem does.
func appendYAMLSeq(b []byte, n *jsonNode, indent int) []byte {
	for _, v := range n.items {
		switch {
		case v.block() && v.kind == '{':
			start := len(b)
			b = appendYAMLMap(b, v, indent+2)
			dashFirstKey(b, start, indent)
		case v.block():
			b = append(b, spaces[:indent]...)
			b = appendYAMLSeq(append(b, "-\n"...), v, indent+2)
		default:
			b = append(b, spaces[:indent]...)
			b = append(appendYAMLScalar(append(b, "- "...), v), '\n')
		}
	}
	return b
}

// isPlainKey is whether a key needs no quotes: letters, digits, _ . -,
// not starting with a digit or -.
func isPlainKey(k string) bool {
	for i, c := range []byte(k) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			continue
		}
		return false
	}
	return k != "" && k != "true" && k != "false" && k != "null" && k != "yes" && k != "no" && k != "on" && k != "off" && k != "y" && k != "n"
}
