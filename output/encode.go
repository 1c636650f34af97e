package output

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// appendJSON appends the event at base as one compact JSON object.
func appendJSON(b []byte, base unsafe.Pointer, fields []*field) []byte {
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.json...)
		b = append(b, '"', ':')
		b = appendJSONValue(b, base, f)
	}
	return append(b, '}')
}

func appendJSONValue(b []byte, base unsafe.Pointer, f *field) []byte {
	switch f.kind {
	case kindString:
		return appendJSONString(b, *at[string](base, f))
	case kindInt:
		return strconv.AppendInt(b, readInt(base, f), 10)
	case kindUint:
		return strconv.AppendUint(b, readUint(base, f), 10)
	case kindBool:
		return strconv.AppendBool(b, *at[bool](base, f))
	case kindFloat:
		return appendFloat(b, *at[float64](base, f))
	case kindStrings:
		b = append(b, '[')
		for i, s := range *at[[]string](base, f) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']')
	case kindStruct:
		return appendJSON(b, base, f.children)
	case kindStructs:
		return appendJSONStructs(b, base, f)
	case kindRaw:
		return appendRaw(b, raw(base, f))
	case kindConst:
		return appendJSONString(b, f.constant)
	}
	return b
}

// appendJSONStructs appends a slice of structs as an array of objects.
func appendJSONStructs(b []byte, base unsafe.Pointer, f *field) []byte {
	elems := *at[[]byte](base, f) // only the slice header is read: its data and length
	n := len(elems)
	data := unsafe.Pointer(unsafe.SliceData(elems))
	b = append(b, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, unsafe.Add(data, uintptr(i)*f.elemSize), f.children)
	}
	return append(b, ']')
}

func readInt(base unsafe.Pointer, f *field) int64 {
	switch f.size {
	case 1:
		return int64(*at[int8](base, f))
	case 2:
		return int64(*at[int16](base, f))
	case 4:
		return int64(*at[int32](base, f))
	}
	return *at[int64](base, f)
}

func readUint(base unsafe.Pointer, f *field) uint64 {
	switch f.size {
	case 1:
		return uint64(*at[uint8](base, f))
	case 2:
		return uint64(*at[uint16](base, f))
	case 4:
		return uint64(*at[uint32](base, f))
	}
	return *at[uint64](base, f)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as encoding/json does (invalid UTF-8 becomes
// U+FFFD, control characters are escaped), except that <, > and & stay as
// they are: paths and arguments contain them and are read by people and jq.
func appendJSONString(b []byte, s string) []byte { return appendQuoted(b, s, false) }

// appendYAMLString quotes s as a YAML double-quoted scalar: JSON's quoting,
// which YAML reads alike, with escapes too for what YAML would refuse or
// read otherwise (notYAML).
func appendYAMLString(b []byte, s string) []byte { return appendQuoted(b, s, true) }

// notYAML is whether r, which JSON takes as it is, must be escaped in YAML:
// DEL, the C1 controls, U+FFFE and U+FFFF are outside YAML's printable
// set (a parser refuses the document), and NEL, U+2028 and U+2029 are
// YAML 1.1 line breaks (folded into a space in a quoted scalar).
func notYAML(r rune) bool {
	return r >= 0x7f && r <= 0x9f || r == 0x2028 || r == 0x2029 || r == 0xfffe || r == 0xffff
}

func appendQuoted(b []byte, s string, yaml bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (c != 0x7f || !yaml) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if yaml && notYAML(r) {
			b = append(b, s[start:i]...)
			b = appendUEscape(b, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendUEscape appends r (in the BMP) as \uXXXX.
func appendUEscape(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendYAMLRaw writes a gadget's JSON into a YAML document (JSON is YAML's
// flow style), escaping what YAML refuses: in valid JSON such characters
// can only stand inside strings, where \uXXXX means them alike.
func appendYAMLRaw(b []byte, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	start := 0
	for i := 0; i < len(raw); {
		c := raw[i]
		if c < 0x7f {
			i++
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRune(raw[i:])
		}
		if notYAML(r) {
			b = append(b, raw[start:i]...)
			b = appendUEscape(b, r)
			start = i + size
		}
		i += size
	}
	return append(b, raw[start:]...)
}

// appendCell appends the column text of one field.
func appendCell(b []byte, base unsafe.Pointer, f *field) []byte {
	switch f.kind {
	case kindString:
		return appendPrintable(b, *at[string](base, f))
	case kindInt:
		v := readInt(base, f)
		if f.walltime {
			return time.Unix(0, v).AppendFormat(b, "15:04:05.000000")
		}
		return strconv.AppendInt(b, v, 10)
	case kindUint:
		return strconv.AppendUint(b, readUint(base, f), 10)
	case kindBool:
		return strconv.AppendBool(b, *at[bool](base, f))
	case kindFloat:
		return appendFloat(b, *at[float64](base, f))
	case kindStrings:
		for i, s := range *at[[]string](base, f) {
			if i > 0 {
				b = append(b, f.join...)
			}
			b = appendPrintable(b, s)
		}
		return b
	case kindStruct:
		return appendJSON(b, base, f.children)
	case kindStructs:
		return appendJSONStructs(b, base, f)
	case kindRaw:
		return appendRaw(b, raw(base, f))
	case kindConst:
		return appendPrintable(b, f.constant)
	}
	return b
}

// appendFloat writes v as JSON can read it: NaN and infinities, which it
// cannot, are written as 0.
func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// AppendPrintable appends s as a column shows it, keeping a terminal sane:
// as it is, or quoted with escapes when it holds a control character (a
// path, an argument or a process's name must not move the cursor, end a
// line or colour the terminal).
func AppendPrintable(b []byte, s string) []byte { return appendPrintable(b, s) }

func appendPrintable(b []byte, s string) []byte {
	if hasControl(s) {
		return append(b, strconv.Quote(s)...)
	}
	return append(b, s...)
}

// hasControl is whether s holds an ASCII control character (a column
// shows it quoted).
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// appendRaw writes JSON the gadget made; null when there is none.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}
