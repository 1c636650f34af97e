package output

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type report struct {
	Disk string `json:"disk" column:"disk"`
	Histogram
}

var reportSchema = NewSchema[report]()

func TestLog2Histogram(t *testing.T) {
	h := Log2Histogram("us", []uint64{1, 0, 3, 5, 0, 0})
	want := []Interval{{1, 0, 1}, {0, 2, 3}, {3, 4, 7}, {5, 8, 15}}
	if !reflect.DeepEqual(h.Intervals, want) || h.Total() != 9 {
		t.Fatalf("intervals %+v, total %d; want %+v, 9", h.Intervals, h.Total(), want)
	}
	if e := Log2Histogram("us", make([]uint64, 27)); len(e.Intervals) != 0 {
		t.Fatalf("empty histogram has intervals %+v", e.Intervals)
	}
}

// The JSON is Inspektor Gadget's histogram, written by the schema's
// encoder (a slice of structs), and reads back as encoding/json reads it.
func TestHistogramJSON(t *testing.T) {
	var buf bytes.Buffer
	p, err := NewPrinter[report](&buf, reportSchema, Format{Mode: ModeJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := report{Disk: "sda", Histogram: Log2Histogram("us", []uint64{0, 2, 0, 7})}
	p.Print(&r)
	p.Flush()
	want := `{"disk":"sda","unit":"us","intervals":[{"count":0,"start":0,"end":1},{"count":2,"start":2,"end":3},{"count":0,"start":4,"end":7},{"count":7,"start":8,"end":15}]}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	var back report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Fatalf("read back %+v (%v), want %+v", back, err, r)
	}
}

func TestHistogramText(t *testing.T) {
	h := Log2Histogram("us", []uint64{0, 20, 10})
	var buf bytes.Buffer
	if err := h.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "usecs") || !strings.Contains(lines[0], "distribution") {
		t.Fatalf("text:\n%s", buf.String())
	}
	full, half := "|"+strings.Repeat("*", 40)+"|", "|"+strings.Repeat("*", 20)+strings.Repeat(" ", 20)+"|"
	if !strings.HasSuffix(lines[2], full) || !strings.HasSuffix(lines[3], half) || !strings.Contains(lines[2], "2 -> 3") {
		t.Fatalf("bars wrong:\n%s", buf.String())
	}
}

func TestSortRows(t *testing.T) {
	rows := []sample{
		{base: base{Pid: 1, Comm: "b"}, Ret: 5},
		{base: base{Pid: 2, Comm: "a"}, Ret: 5},
		{base: base{Pid: 3, Comm: "c"}, Ret: 9},
		{base: base{Pid: 4, Comm: "a"}, Ret: -1},
	}
	so, err := sampleSchema.ParseSort("-ret, comm")
	if err != nil {
		t.Fatal(err)
	}
	SortRows(rows, so)
	var pids []uint32
	for _, r := range rows {
		pids = append(pids, r.Pid)
	}
	if !reflect.DeepEqual(pids, []uint32{3, 2, 1, 4}) {
		t.Fatalf("order %v, want [3 2 1 4]", pids)
	}
	_, err = sampleSchema.ParseSort("-nosuch")
	if err == nil || !strings.Contains(err.Error(), `unknown column "nosuch"`) || !strings.Contains(err.Error(), "pid,comm") {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestOwnFormats(t *testing.T) {
	own := []string{"folded", "pprof=FILE"}
	for in, want := range map[string]Format{
		"folded":           {Mode: ModeOwn, Name: "folded"},
		"pprof=/tmp/x.pb":  {Mode: ModeOwn, Name: "pprof", Arg: "/tmp/x.pb"},
		"json":             {Mode: ModeJSON},
		"columns=pid,comm": {Mode: ModeColumns, Columns: []string{"pid", "comm"}},
	} {
		got, err := ParseFormat(in, own...)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseFormat(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"pprof", "pprof=", "svg=x"} {
		if _, err := ParseFormat(bad, own...); err == nil {
			t.Errorf("ParseFormat(%q) accepted", bad)
		}
	}
	if _, err := ParseFormat("folded"); err == nil {
		t.Error("folded accepted for a gadget that has no such format")
	}
}

// On a terminal each interval's table replaces the last one; elsewhere
// tables follow each other.
func TestPrintInterval(t *testing.T) {
	var buf bytes.Buffer
	p, _ := NewPrinter[sample](&buf, sampleSchema, Format{Mode: ModeColumns}, []string{"pid", "comm"})
	rows := []sample{{base: base{Pid: 7, Comm: "x"}}}
	if err := p.PrintInterval(rows, "12:00:00  1 of 1 rows", false); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "12:00:00  1 of 1 rows\nPID  COMM\n7    x\n\n" {
		t.Fatalf("plain interval: %q", got)
	}
	buf.Reset()
	p.PrintInterval(rows, "12:00:01  1 of 1 rows", true)
	if got := buf.String(); got != "\x1b[H12:00:01  1 of 1 rows\x1b[K\nPID  COMM\x1b[K\n7    x\x1b[K\n\x1b[J" {
		t.Fatalf("redrawn interval: %q", got)
	}
	buf.Reset()
	pj, _ := NewPrinter[sample](&buf, sampleSchema, Format{Mode: ModeJSON}, nil)
	pj.PrintInterval(append(rows, rows...), "ignored", false)
	if lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "[{") {
		t.Fatalf("JSON interval is not one array on one line: %q", buf.String())
	}
}
