package output

import (
	"unsafe"
)

// appendYAML appends the event at base as a YAML block mapping, each line
// indented by indent spaces. Strings are double-quoted as JSON quotes them
// (a YAML double-quoted scalar reads them back alike), with what YAML
// refuses escaped too; a gadget's raw JSON document is written inline, as
// YAML's flow style. Like appendJSON, it
// reads fields at their offsets: no reflection per event.
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
	copy(b[start+indent:], "- ")
	return b
}

// yamlDocument appends the event at base as one YAML document.
func yamlDocument(b []byte, base unsafe.Pointer, fields []*field) []byte {
	b = append(b, "---\n"...)
	return appendYAML(b, base, fields, 0)
}
