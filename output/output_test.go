package output

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type inner struct {
	Name string `json:"name" column:"inner.name,width:6"`
	ID   string `json:"id"`
}

type base struct {
	Nested inner  `json:"nested"`
	Pid    uint32 `json:"pid" column:"pid,width:5,right"`
	Comm   string `json:"comm" column:"comm,width:8"`
}

type sample struct {
	base
	Ret   int64    `json:"ret" column:"ret,width:4,right"`
	Small int8     `json:"small"`
	U16   uint16   `json:"u16"`
	OK    bool     `json:"ok" column:"ok"`
	Flags []string `json:"flags" column:"flags,width:10,join:|"`
	Text  string   `json:"-" column:"text"`
	Path  string   `json:"path" column:"path"`
}

var sampleSchema = NewSchema[sample]()

func newSample() sample {
	return sample{
		base: base{Nested: inner{Name: "web", ID: "abc"}, Pid: 42, Comm: "cat"},
		Ret:  -2, Small: -5, U16: 65535, OK: true, Flags: []string{"O_RDONLY", "O_CLOEXEC"},
		Text: "only a column", Path: "/tmp/\"quoted\"\\\n\t\x01<&>\xff\xfeé",
	}
}

// Our JSON is what encoding/json makes of the same value (but for <, >, &,
// which we leave readable, and fields tagged json:"-").
func TestJSONMatchesEncodingJSON(t *testing.T) {
	var buf bytes.Buffer
	p, err := NewPrinter[sample](&buf, sampleSchema, Format{Mode: ModeJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := newSample()
	p.Print(&ev)
	p.Flush()
	if !strings.HasSuffix(buf.String(), "}\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Fatalf("not one line: %q", buf.String())
	}
	var got, want map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("invalid JSON %q: %v", buf.String(), err)
	}
	ref, _ := json.Marshal(ev)
	json.Unmarshal(ref, &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if !strings.Contains(buf.String(), `<&>`) {
		t.Errorf("<&> should stay readable: %s", buf.String())
	}
}

// printColumns prints the header and one sample event.
func printColumns(t *testing.T, f Format, defaultColumns []string) string {
	t.Helper()
	var buf bytes.Buffer
	p, err := NewPrinter[sample](&buf, sampleSchema, f, defaultColumns)
	if err != nil {
		t.Fatal(err)
	}
	ev := newSample()
	p.Header()
	p.Print(&ev)
	p.Flush()
	return buf.String()
}

func TestColumns(t *testing.T) {
	got := printColumns(t, Format{Mode: ModeColumns}, []string{"inner.name", "pid", "comm", "ret", "flags", "text"})
	want := "INNER.NAME   PID COMM      RET FLAGS      TEXT\n" +
		"web           42 cat        -2 O_RDONLY|O_CLOEXEC only a column\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestColumnSelection(t *testing.T) {
	f, err := ParseFormat("columns=comm,PID")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := printColumns(t, f, nil), "COMM       PID\ncat         42\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var buf bytes.Buffer
	f, _ = ParseFormat("columns=pid,bogus")
	_, err = NewPrinter[sample](&buf, sampleSchema, f, nil)
	if err == nil || !strings.Contains(err.Error(), `unknown column "bogus"`) || !strings.Contains(err.Error(), "inner.name,pid,comm,ret,ok,flags,text,path") {
		t.Errorf("error %v", err)
	}
}

func TestParseFormat(t *testing.T) {
	for _, bad := range []string{"xml", "columns=", "columns=a,,b", "JSON"} {
		if _, err := ParseFormat(bad); err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
		}
	}
	for in, mode := range map[string]Mode{"": ModeColumns, "columns": ModeColumns, "json": ModeJSON, "jsonpretty": ModeJSONPretty} {
		if f, err := ParseFormat(in); err != nil || f.Mode != mode {
			t.Errorf("ParseFormat(%q) = %v, %v", in, f, err)
		}
	}
}

func TestSnapshotJSONAndPretty(t *testing.T) {
	for _, mode := range []Mode{ModeJSON, ModeJSONPretty} {
		var buf bytes.Buffer
		p, _ := NewPrinter[sample](&buf, sampleSchema, Format{Mode: mode}, nil)
		rows := []sample{newSample(), newSample()}
		rows[1].Pid = 7
		if err := p.PrintAll(rows); err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("mode %d: %v in %q", mode, err, buf.String())
		}
		if len(got) != 2 || got[1]["pid"] != float64(7) {
			t.Errorf("mode %d: %v", mode, got)
		}
		if multiline := strings.Count(buf.String(), "\n") > 1; multiline != (mode == ModeJSONPretty) {
			t.Errorf("mode %d: %q", mode, buf.String())
		}
	}
}

func TestSnapshotTable(t *testing.T) {
	var buf bytes.Buffer
	p, _ := NewPrinter[sample](&buf, sampleSchema, Format{Mode: ModeColumns}, []string{"comm", "pid"})
	rows := []sample{newSample(), newSample()}
	rows[1].Comm = "a-much-longer-name"
	if err := p.PrintAll(rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "COMM") || !strings.HasSuffix(lines[2], "42") {
		t.Fatalf("table %q", buf.String())
	}
	// columns line up: PID starts where the values do
	if strings.Index(lines[0], "PID") != strings.Index(lines[1], "42") {
		t.Errorf("not aligned:\n%s", buf.String())
	}
	for _, l := range lines {
		if strings.HasSuffix(l, " ") {
			t.Errorf("trailing blanks in %q", l)
		}
	}
}

// Writes happen between events only, so a reader never sees half a line.
func TestFlushesWholeLines(t *testing.T) {
	var w lineChecker
	p, _ := NewPrinter[sample](&w, sampleSchema, Format{Mode: ModeJSON}, nil)
	ev := newSample()
	for i := 0; i < 5000; i++ {
		p.Print(&ev)
	}
	p.Flush()
	if w.writes < 2 {
		t.Errorf("expected several writes, got %d", w.writes)
	}
	if w.partial {
		t.Error("a write ended inside a line")
	}
}

type lineChecker struct {
	writes  int
	partial bool
}

func (l *lineChecker) Write(b []byte) (int, error) {
	l.writes++
	if len(b) > 0 && b[len(b)-1] != '\n' {
		l.partial = true
	}
	return len(b), nil
}

// Columns line up, and fit a terminal, by display width: an accented
// letter takes a column, an East Asian wide character two, a combining
// accent none. Each row's pid must end on the screen column where the
// header's PID ends.
func TestColumnsDisplayWidth(t *testing.T) {
	names := []string{"cafe", "café", "日本", "e\u0301e\u0301", "abcdefghijk", "日本語日本語"}
	for _, lineWidth := range []int{0, 30, 12} {
		var buf bytes.Buffer
		p, err := NewPrinter[sample](&buf, sampleSchema, Format{Mode: ModeColumns}, []string{"comm", "pid", "path"})
		if err != nil {
			t.Fatal(err)
		}
		if lineWidth > 0 { // as on a terminal that wide
			p.lineWidth = lineWidth
			p.widths = fitWidths(p.widths, 1, lineWidth)
		}
		p.Header()
		for _, n := range names {
			row := newSample()
			row.Comm, row.Path = n, "/tmp/日本語のファイル"
			p.Print(&row)
		}
		p.Flush()
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		pidEnd := displayWidth([]byte(lines[0][:strings.Index(lines[0], "PID")+3]))
		for k, l := range lines[1:] {
			i := strings.Index(l, "42")
			if i < 0 {
				t.Errorf("width %d: no pid in %q", lineWidth, l)
				continue
			}
			overflows := displayWidth([]byte(names[k])) > 8 // comm's width: off a terminal, a longer value pushes the line
			if end := displayWidth([]byte(l[:i+2])); end != pidEnd && !(lineWidth == 0 && overflows) {
				t.Errorf("width %d: the pid ends at column %d, the header's at %d:\n%s", lineWidth, end, pidEnd, buf.String())
			}
			if w := displayWidth([]byte(l)); lineWidth > 0 && w > lineWidth {
				t.Errorf("width %d: %q is %d columns wide", lineWidth, l, w)
			}
		}
	}
}
