package output

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Filter is a compiled set of -F filters, Inspektor Gadget's syntax: every
// one must hold. Each reads its field at the field's offset, as the printer
// does: no reflection per event.
type Filter struct {
	conds []cond
}

type op int

const (
	opEq op = iota
	opNe
	opGt
	opGe
	opLt
	opLe
	opMatch
	opNoMatch
)

// cond is one filter: a field, an operator, and the value compared with,
// already converted to the field's kind.
type cond struct {
	f   *field
	op  op
	s   string
	i   int64
	u   uint64
	fl  float64
	b   bool
	re  *regexp.Regexp
	raw string // as given, for messages
	// fixed: the answer whatever the value (1 true, -1 false), for a
	// number between two of the field's (wholeThreshold); 0: compare.
	fixed int8
}

// Empty says whether no filter was given.
func (fl Filter) Empty() bool { return len(fl.conds) == 0 }

// ParseFilters compiles -F values ("comm:nginx", "pid:>=100",
// "runtime.containerName:~^web", "latency:>10ms"). A field is a column name
// or a JSON field, dotted when nested. An unknown one, or a value its field
// cannot hold, is an error naming the valid fields.
func (s *Schema) ParseFilters(specs []string) (Filter, error) {
	var out Filter
	for _, spec := range specs {
		c, err := s.parseFilter(spec)
		if err != nil {
			return Filter{}, err
		}
		out.conds = append(out.conds, c)
	}
	return out, nil
}

func (s *Schema) parseFilter(spec string) (cond, error) {
	name, expr, ok := strings.Cut(spec, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return cond{}, fmt.Errorf("-F %q: want COLUMN:VALUE (or :!VALUE, :>=V, :>V, :<=V, :<V, :~REGEX, :!~REGEX)", spec)
	}
	f, ok := s.lookup(strings.TrimSpace(name))
	if !ok || f.composite() {
		return cond{}, fmt.Errorf("-F %q: unknown column %q; valid columns: %s", spec, name, strings.Join(s.filterable(), ","))
	}
	c := cond{f: f, raw: spec}
	for _, o := range []struct {
		prefix string
		op     op
	}{{"!~", opNoMatch}, {"~", opMatch}, {">=", opGe}, {"<=", opLe}, {">", opGt}, {"<", opLt}, {"!", opNe}} {
		if v, ok := strings.CutPrefix(expr, o.prefix); ok {
			c.op, expr = o.op, v
			break
		}
	}
	if c.op == opMatch || c.op == opNoMatch {
		re, err := regexp.Compile(expr)
		if err != nil {
			return cond{}, fmt.Errorf("-F %q: bad regular expression: %v", spec, err)
		}
		c.re = re
		return c, nil
	}
	bad := func(what string) (cond, error) {
		return cond{}, fmt.Errorf("-F %q: column %s holds %s, not %q; valid columns: %s", spec, name, what, expr, strings.Join(s.filterable(), ","))
	}
	switch f.kind {
	case kindString, kindStrings, kindConst:
		c.s = expr
	case kindInt:
		v, frac, err := parseNumber(expr, f.unit)
		if err != nil {
			return bad(numberKind(f.unit))
		}
		c.i, c.fixed = wholeThreshold(v, frac, c.op)
	case kindUint:
		v, frac, err := parseNumber(expr, f.unit)
		if err != nil || v < 0 {
			return bad("a number ≥ 0" + unitHint(f.unit))
		}
		v, c.fixed = wholeThreshold(v, frac, c.op)
		c.u = uint64(v)
	case kindFloat:
		v, err := strconv.ParseFloat(expr, 64)
		if err != nil {
			return bad("a number")
		}
		c.fl = v
	case kindBool:
		v, err := strconv.ParseBool(expr)
		if err != nil {
			return bad("true or false")
		}
		c.b = v
	}
	return c, nil
}

func numberKind(unit string) string { return "a number" + unitHint(unit) }

func unitHint(unit string) string {
	switch unit {
	case "ns", "us", "ms":
		return " (" + unit + ", or a duration such as 10ms)"
	case "bytes":
		return " (bytes, or a size such as 4KiB or 1MB)"
	}
	return ""
}

// parseNumber reads a filter's number: plain, or for a field with a unit a
// duration (10ms, 1.5s) or a size (4K, 4KiB, 1MB), converted to the unit.
// A value between two whole numbers of the unit (1500us on a field in ms)
// is its floor, with frac set.
func parseNumber(s, unit string) (v int64, frac bool, err error) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, false, nil
	}
	var q float64 // in the field's unit
	switch unit {
	case "ns", "us", "ms":
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, false, err
		}
		per := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "ms": time.Millisecond}[unit]
		q = float64(d) / float64(per)
	case "bytes":
		if q, err = parseSize(s); err != nil {
			return 0, false, err
		}
	default:
		return 0, false, fmt.Errorf("not a number")
	}
	floor := math.Floor(q)
	if floor < math.MinInt64 || floor >= math.MaxInt64 {
		return 0, false, fmt.Errorf("out of range")
	}
	return int64(floor), q != floor, nil
}

// wholeThreshold is the whole number that, compared by op with a field's
// whole values, gives the answers the threshold v (+ a fraction when frac)
// gives: x > 1.5 is x > 1, x >= 1.5 is x >= 2, x < 1.5 is x < 2, x <= 1.5
// is x <= 1. An equality with a fraction never holds (fixed -1), an
// inequality always (fixed 1).
func wholeThreshold(v int64, frac bool, o op) (int64, int8) {
	if !frac {
		return v, 0
	}
	switch o {
	case opGe, opLt:
		return v + 1, 0
	case opEq:
		return v, -1
	case opNe:
		return v, 1
	}
	return v, 0
}

// parseSize reads 512, 4K, 4KB, 4KiB, 1.5M...: K, M, G, T as powers of
// 1024 (ls -h's way), KB, MB... as powers of 1000.
func parseSize(s string) (float64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("not a size")
	}
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, err
	}
	suffix := strings.ToUpper(s[i:])
	exp := strings.Index("KMGT", suffix[:1]) + 1
	if exp == 0 {
		return 0, fmt.Errorf("not a size")
	}
	var base float64
	switch suffix[1:] {
	case "", "IB", "I":
		base = 1024
	case "B":
		base = 1000
	default:
		return 0, fmt.Errorf("not a size")
	}
	for ; exp > 0; exp-- {
		n *= base
	}
	return n, nil
}

// filterable lists the names -F takes: the columns, then the JSON fields
// that have none.
func (s *Schema) filterable() []string {
	var out []string
	for _, name := range s.order {
		if !s.columns[name].composite() {
			out = append(out, name)
		}
	}
	for _, path := range s.paths {
		if f := s.byPath[path]; f.column == "" && !f.composite() && s.columns[path] == nil {
			out = append(out, path)
		}
	}
	return out
}

// Match says whether the row at base passes every filter.
func (fl Filter) Match(base unsafe.Pointer) bool {
	for i := range fl.conds {
		if !fl.conds[i].match(base) {
			return false
		}
	}
	return true
}

// MatchRow is Match for a typed row.
func MatchRow[T any](fl Filter, row *T) bool { return fl.Match(unsafe.Pointer(row)) }

// Keep drops, in place, the rows the filter does not pass.
func Keep[T any](fl Filter, rows []T) []T {
	if fl.Empty() {
		return rows
	}
	out := rows[:0]
	for i := range rows {
		if fl.Match(unsafe.Pointer(&rows[i])) {
			out = append(out, rows[i])
		}
	}
	return out
}

// cellBufs lends the buffers a condition writes a column's text into (a
// regular expression on a number or a list, a list's equality): a buffer
// on the stack would escape to the heap, an allocation per event.
var cellBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (c *cond) match(base unsafe.Pointer) bool {
	if c.fixed != 0 {
		return c.fixed > 0
	}
	f := c.f
	if c.re != nil {
		if f.kind == kindString { // its column text is itself, mostly
			if s := *at[string](base, f); !hasControl(s) {
				return c.re.MatchString(s) == (c.op == opMatch)
			}
		}
		bp := cellBufs.Get().(*[]byte)
		*bp = appendCell((*bp)[:0], base, f)
		ok := c.re.Match(*bp)
		cellBufs.Put(bp)
		return ok == (c.op == opMatch)
	}
	var r int
	switch f.kind {
	case kindString:
		r = strings.Compare(*at[string](base, f), c.s)
	case kindConst:
		r = strings.Compare(f.constant, c.s)
	case kindStrings:
		bp := cellBufs.Get().(*[]byte)
		*bp = appendCell((*bp)[:0], base, f)
		r = strings.Compare(unsafe.String(unsafe.SliceData(*bp), len(*bp)), c.s)
		cellBufs.Put(bp)
	case kindInt:
		r = cmp.Compare(readInt(base, f), c.i)
	case kindUint:
		r = cmp.Compare(readUint(base, f), c.u)
	case kindFloat:
		r = cmp.Compare(*at[float64](base, f), c.fl)
	case kindBool:
		v := *at[bool](base, f)
		if v == c.b {
			r = 0
		} else if !v {
			r = -1
		} else {
			r = 1
		}
	}
	switch c.op {
	case opEq:
		return r == 0
	case opNe:
		return r != 0
	case opGt:
		return r > 0
	case opGe:
		return r >= 0
	case opLt:
		return r < 0
	case opLe:
		return r <= 0
	}
	return false
}

// Pushable is what the kernel can do of the filters: the value of an
// equality on one of the named columns (pid, comm, uid, container), ""
// when there is none. The filter still holds in user space too.
func (fl Filter) Pushable(column string) string {
	for _, c := range fl.conds {
		if c.op == opEq && c.f.column == column {
			return c.raw[strings.Index(c.raw, ":")+1:]
		}
	}
	return ""
}
