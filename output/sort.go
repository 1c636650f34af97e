package output

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// Sorter orders rows of one schema by columns, in Inspektor Gadget's
// --sort syntax: comma-separated column names, each with a leading "-" for
// descending ("-reads,-writes,comm"). Fields are read at their offsets, as
// the printer reads them: no reflection per row.
type Sorter struct {
	keys []sortKey
}

type sortKey struct {
	f    *field
	desc bool
}

// ParseSort checks spec against the schema's columns; an unknown column,
// or one that cannot be ordered, is an error naming the valid ones.
func (s *Schema) ParseSort(spec string) (Sorter, error) {
	var out Sorter
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		name := strings.TrimSpace(part)
		desc := strings.HasPrefix(name, "-")
		name = strings.TrimPrefix(name, "-")
		f, ok := s.columns[strings.ToLower(name)]
		if !ok || f.kind == kindStruct || f.kind == kindStructs {
			return Sorter{}, fmt.Errorf("--sort %q: unknown column %q; sortable columns: %s", spec, name, strings.Join(s.sortable(), ","))
		}
		out.keys = append(out.keys, sortKey{f: f, desc: desc})
	}
	return out, nil
}

func (s *Schema) sortable() []string {
	var out []string
	for _, name := range s.order {
		if k := s.columns[name].kind; k != kindStruct && k != kindStructs {
			out = append(out, name)
		}
	}
	return out
}

// Compare orders two rows at a and b: negative when a comes first.
func (so Sorter) Compare(a, b unsafe.Pointer) int {
	for _, k := range so.keys {
		c := compareField(a, b, k.f)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareField(a, b unsafe.Pointer, f *field) int {
	switch f.kind {
	case kindString:
		return strings.Compare(*at[string](a, f), *at[string](b, f))
	case kindInt:
		return cmp.Compare(readInt(a, f), readInt(b, f))
	case kindUint:
		return cmp.Compare(readUint(a, f), readUint(b, f))
	case kindFloat:
		return cmp.Compare(*at[float64](a, f), *at[float64](b, f))
	case kindBool:
		x, y := *at[bool](a, f), *at[bool](b, f)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case kindStrings:
		return slices.Compare(*at[[]string](a, f), *at[[]string](b, f))
	}
	return 0
}

// SortRows sorts rows in place (stably: rows that compare equal keep their order).
func SortRows[T any](rows []T, so Sorter) {
	if len(so.keys) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b T) int {
		return so.Compare(unsafe.Pointer(&a), unsafe.Pointer(&b))
	})
}
