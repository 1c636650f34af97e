package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unsafe"

	"github.com/clipperhouse/displaywidth"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Mode is how events are printed.
type Mode int

const (
	ModeColumns    Mode = iota // aligned columns, a header first
	ModeJSON                   // one compact JSON object a line
	ModeJSONPretty             // indented JSON
	ModeOwn                    // one of the gadget's own formats (profile cpu: folded, pprof=FILE, svg=FILE)
	ModeYAML                   // a YAML document per event; a snapshot's rows as one sequence
)

// Format is a parsed -o value.
type Format struct {
	Mode    Mode
	Columns []string // with ModeColumns: the columns asked for, nil for the gadget's default
	Name    string   // with ModeOwn: the format's name (folded, pprof)
	Arg     string   // with ModeOwn: what follows "NAME=", e.g. a file
	// Filter is -F, compiled (Schema.ParseFilters): the printer prints
	// only the rows it passes.
	Filter Filter
}

// ParseFormat parses -o: columns, json, jsonpretty or columns=a,b,c, or
// one of own, the gadget's own formats, each "NAME" or "NAME=ARG" (the
// ARG a placeholder such as FILE, which the user's value replaces).
func ParseFormat(s string, own ...string) (Format, error) {
	for _, o := range own {
		name, arg, takesArg := strings.Cut(o, "=")
		switch {
		case !takesArg && s == name:
			return Format{Mode: ModeOwn, Name: name}, nil
		case takesArg && strings.HasPrefix(s, name+"="):
			v := strings.TrimPrefix(s, name+"=")
			if v == "" {
				return Format{}, fmt.Errorf("bad output %q: want %s=%s", s, name, arg)
			}
			return Format{Mode: ModeOwn, Name: name, Arg: v}, nil
		case takesArg && s == name:
			return Format{}, fmt.Errorf("bad output %q: want %s=%s", s, name, arg)
		}
	}
	switch {
	case s == "" || s == "columns":
		return Format{Mode: ModeColumns}, nil
	case s == "json":
		return Format{Mode: ModeJSON}, nil
	case s == "jsonpretty":
		return Format{Mode: ModeJSONPretty}, nil
	case s == "yaml":
		return Format{Mode: ModeYAML}, nil
	case strings.HasPrefix(s, "columns="):
		cols := strings.Split(strings.TrimPrefix(s, "columns="), ",")
		for _, c := range cols {
			if strings.TrimSpace(c) == "" {
				return Format{}, fmt.Errorf("bad output %q: empty column name", s)
			}
		}
		return Format{Mode: ModeColumns, Columns: cols}, nil
	}
	want := "columns, json, jsonpretty, yaml or columns=a,b,c"
	if len(own) > 0 {
		want = "columns, json, jsonpretty, yaml, columns=a,b,c, " + strings.Join(own, ", ")
	}
	return Format{}, fmt.Errorf("bad output %q: want %s", s, want)
}

// flushAt is how much output is gathered before it is written. Writes happen
// only between events, so a reader never sees half a line.
const flushAt = 64 << 10

// Printer prints events of type T.
type Printer[T any] struct {
	w       io.Writer
	mode    Mode
	fields  []*field // JSON fields
	columns []*field // columns mode
	widths  []int    // of each column: its width, or its header's when longer
	filter  Filter
	// lineWidth is the terminal's width, 0 when w is not one: lines are
	// then never cut.
	lineWidth int
	buf       []byte
	err       error
}

// NewPrinter checks the format against T's schema. defaultColumns are used
// when the format names none.
func NewPrinter[T any](w io.Writer, s *Schema, f Format, defaultColumns []string) (*Printer[T], error) {
	if s.typ != typeOf[T]() {
		return nil, fmt.Errorf("output: schema of %s used for %s", s.typ, typeOf[T]())
	}
	p := &Printer[T]{w: w, mode: f.Mode, fields: s.fields, filter: f.Filter, buf: make([]byte, 0, flushAt+4096)}
	if f.Mode == ModeColumns {
		names := f.Columns
		if names == nil {
			names = defaultColumns
		}
		cols, err := s.resolveColumns(names, defaultColumns)
		if err != nil {
			return nil, err
		}
		p.columns = cols
		for _, c := range cols {
			p.widths = append(p.widths, max(c.width, len(c.column)))
		}
		if p.lineWidth = terminalColumns(w); p.lineWidth > 0 {
			p.widths = fitWidths(p.widths, 1, p.lineWidth)
		}
	}
	return p, nil
}

// Header prints the column header (columns mode only).
func (p *Printer[T]) Header() {
	if p.mode != ModeColumns {
		return
	}
	line := len(p.buf)
	for i, c := range p.columns {
		start := len(p.buf)
		p.buf = append(p.buf, strings.ToUpper(c.column)...)
		p.fit(line, start, i)
		p.align(start, i)
	}
	p.cutLine(line)
	p.buf = append(p.buf, '\n')
}

// cutLine cuts, on a terminal, the line written from line to its width:
// when even the narrowest columns do not fit, the line ends in an
// ellipsis rather than wrapping.
func (p *Printer[T]) cutLine(line int) {
	if p.lineWidth > 0 {
		p.buf = cutTo(p.buf, line, p.lineWidth)
	}
}

// fit cuts, on a terminal, the cell of column i written from start to the
// column's width; the last column to what is left of the line.
func (p *Printer[T]) fit(line, start, i int) {
	if p.lineWidth == 0 {
		return
	}
	width := p.widths[i]
	if i == len(p.columns)-1 {
		width = p.lineWidth - displayWidth(p.buf[line:start])
	}
	p.buf = cutTo(p.buf, start, width)
}

var spaces = []byte(strings.Repeat(" ", 256))

// align pads the cell of column i written from start to the column's width,
// right-aligning it when the column says so, and adds the separator.
func (p *Printer[T]) align(start, i int) {
	last := i == len(p.columns)-1
	n := p.widths[i] - displayWidth(p.buf[start:])
	if p.columns[i].right && n > 0 {
		p.buf = append(p.buf, spaces[:n]...)
		copy(p.buf[start+n:], p.buf[start:len(p.buf)-n])
		for j := start; j < start+n; j++ {
			p.buf[j] = ' '
		}
	} else if !last && n > 0 {
		p.buf = append(p.buf, spaces[:n]...)
	}
	if !last {
		p.buf = append(p.buf, ' ')
	}
}

// Print adds one event; output is written in batches (see Flush).
func (p *Printer[T]) Print(ev *T) {
	base := unsafe.Pointer(ev)
	if !p.filter.Match(base) {
		return
	}
	switch p.mode {
	case ModeColumns:
		line := len(p.buf)
		for i, c := range p.columns {
			start := len(p.buf)
			p.buf = appendCell(p.buf, base, c)
			p.fit(line, start, i)
			p.align(start, i)
		}
		p.cutLine(line)
		p.buf = append(p.buf, '\n')
	case ModeJSON:
		p.buf = appendJSON(p.buf, base, p.fields)
		p.buf = append(p.buf, '\n')
	case ModeJSONPretty:
		start := len(p.buf)
		p.buf = appendJSON(p.buf, base, p.fields)
		p.buf = p.indent(p.buf, start)
		p.buf = append(p.buf, '\n')
	case ModeYAML:
		p.buf = yamlDocument(p.buf, base, p.fields)
	}
	if len(p.buf) >= flushAt {
		p.Flush()
	}
}

// Warn adds a message to a JSON stream as Inspektor Gadget writes its
// warnings there, {"type":"warn","message":"..."} on a line of its own (IG:
// lost events, "lost N samples"), so a pipeline that reads only stdout
// learns of it. In columns mode it adds nothing: messages go to stderr.
func (p *Printer[T]) Warn(msg string) {
	if p.mode != ModeJSON && p.mode != ModeJSONPretty {
		return
	}
	start := len(p.buf)
	p.buf = append(p.buf, `{"type":"warn","message":`...)
	p.buf = appendJSONString(p.buf, msg)
	p.buf = append(p.buf, '}')
	if p.mode == ModeJSONPretty {
		p.buf = p.indent(p.buf, start)
	}
	p.buf = append(p.buf, '\n')
	if len(p.buf) >= flushAt {
		p.Flush()
	}
}

// indent re-indents the JSON written from start.
func (p *Printer[T]) indent(b []byte, start int) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, b[start:], "", "  "); err != nil {
		return b // cannot happen for our own output; keep it compact then
	}
	return append(b[:start], out.Bytes()...)
}

// Passed returns the rows -F lets through (rows itself when there is no
// filter; else a new slice).
func (p *Printer[T]) Passed(rows []T) []T {
	if p.filter.Empty() {
		return rows
	}
	return Keep(p.filter, slices.Clone(rows))
}

// Flush writes what was gathered. Call it whenever no more events are waiting,
// so output is never held back while ig is idle.
func (p *Printer[T]) Flush() error {
	if len(p.buf) > 0 && p.err == nil {
		_, p.err = p.w.Write(p.buf)
	}
	p.buf = p.buf[:0]
	return p.err
}

// PrintAll prints a snapshot: a table sized to its content, or one JSON array.
func (p *Printer[T]) PrintAll(rows []T) error {
	rows = p.Passed(rows)
	switch p.mode {
	case ModeColumns:
		if err := p.table(rows); err != nil {
			return err
		}
	case ModeYAML:
		p.buf = append(p.buf, "---\n"...)
		if len(rows) == 0 {
			p.buf = append(p.buf, "[]\n"...)
		}
		for i := range rows {
			p.buf = appendYAMLItem(p.buf, unsafe.Pointer(&rows[i]), p.fields, 0)
		}
	default:
		p.buf = append(p.buf, '[')
		start := len(p.buf) - 1
		for i := range rows {
			if i > 0 {
				p.buf = append(p.buf, ',')
			}
			p.buf = appendJSON(p.buf, unsafe.Pointer(&rows[i]), p.fields)
		}
		p.buf = append(p.buf, ']')
		if p.mode == ModeJSONPretty {
			p.buf = p.indent(p.buf, start)
		}
		p.buf = append(p.buf, '\n')
	}
	return p.Flush()
}

func (p *Printer[T]) table(rows []T) error {
	var out bytes.Buffer
	t := tablewriter.NewTable(&out,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithPadding(tw.Padding{Right: "  ", Overwrite: true}),
	)
	header := make([]string, len(p.columns))
	for i, c := range p.columns {
		header[i] = strings.ToUpper(c.column)
	}
	cells := make([][]string, len(rows))
	cell := make([]byte, 0, 256)
	for i := range rows {
		row := make([]string, len(p.columns))
		for j, c := range p.columns {
			cell = appendCell(cell[:0], unsafe.Pointer(&rows[i]), c)
			row[j] = string(cell)
		}
		cells[i] = row
	}
	if p.lineWidth > 0 {
		// a table is as wide as its content: on a terminal, cut it to fit
		widths := make([]int, len(header))
		for _, row := range append([][]string{header}, cells...) {
			for j, c := range row {
				widths[j] = max(widths[j], displaywidth.String(c))
			}
		}
		widths = fitWidths(widths, 2, p.lineWidth)
		for _, row := range append([][]string{header}, cells...) {
			for j := range row {
				row[j] = cutString(row[j], widths[j])
			}
		}
	}
	t.Header(header)
	for _, row := range cells {
		if err := t.Append(row); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	// Trailing blanks only make copy-and-paste worse.
	for _, line := range bytes.SplitAfter(out.Bytes(), []byte("\n")) {
		start := len(p.buf)
		p.buf = append(p.buf, bytes.TrimRight(line, " \n")...)
		p.cutLine(start)
		if len(line) > 0 {
			p.buf = append(p.buf, '\n')
		}
	}
	return nil
}

// PrintInterval prints one interval of a top gadget: a title line and the
// rows as a table (columns mode), or the rows as one JSON array on a line.
// With redraw (a terminal), the table replaces the previous one in place,
// as top does: the cursor goes home, every line clears what was left of
// the last table, and the rest of the screen is cleared.
func (p *Printer[T]) PrintInterval(rows []T, title string, redraw bool) error {
	rows = p.Passed(rows)
	if p.mode != ModeColumns {
		return p.PrintAll(rows)
	}
	start := len(p.buf)
	p.buf = append(p.buf, title...)
	p.buf = append(p.buf, '\n')
	if err := p.table(rows); err != nil {
		return err
	}
	if !redraw {
		p.buf = append(p.buf, '\n') // a blank line between intervals
		return p.Flush()
	}
	text := append([]byte(nil), p.buf[start:]...)
	p.buf = append(p.buf[:start], "\x1b[H"...)
	for _, line := range bytes.SplitAfter(text, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		p.buf = append(p.buf, bytes.TrimSuffix(line, []byte("\n"))...)
		p.buf = append(p.buf, "\x1b[K\n"...)
	}
	p.buf = append(p.buf, "\x1b[J"...)
	return p.Flush()
}
