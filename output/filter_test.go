package output

import (
	"strings"
	"testing"
)

type filterRow struct {
	Comm    string   `json:"comm" column:"comm"`
	Pid     uint32   `json:"pid" column:"pid"`
	Ret     int64    `json:"ret" column:"ret"`
	OK      bool     `json:"ok"`
	Avg     float64  `json:"avg" column:"avg"`
	Flags   []string `json:"flags" column:"flags,join:|"`
	Latency uint64   `json:"latency" unit:"ns"`
	Lat     uint64   `json:"lat" column:"lat" unit:"us"`
	Bytes   uint64   `json:"bytes" unit:"bytes"`
	Nested  inner    `json:"nested"`
}

// TestFilters: each operator on each kind of field, numbers as numbers,
// durations and sizes in the field's unit, nested fields by JSON path.
func TestFilters(t *testing.T) {
	s := NewSchema[filterRow]()
	row := filterRow{Comm: "nginx", Pid: 1200, Ret: -2, OK: true, Avg: 2.5, Flags: []string{"O_RDONLY", "O_CLOEXEC"},
		Latency: 15_000_000, Lat: 1500, Bytes: 5000, Nested: inner{Name: "web", ID: "abc"}}
	for spec, want := range map[string]bool{
		"comm:nginx": true, "comm:ngin": false, "comm:!nginx": false, "comm:!curl": true,
		"comm:~^ng": true, "comm:~x$": true, "comm:!~^ng": false, "comm:>m": true, "comm:<m": false,
		"pid:1200": true, "pid:>=1200": true, "pid:>1200": false, "pid:<1201": true, "pid:<=1199": false, "pid:!7": true,
		"pid:~^12": true, // a regular expression reads the column's text
		"ret:-2":   true, "ret:<0": true, "ret:>-3": true,
		"ok:true": true, "ok:false": false, "ok:!false": true,
		"avg:>2": true, "avg:2.5": true, "avg:<2.5": false,
		"flags:O_RDONLY|O_CLOEXEC": true, "flags:~CLOEXEC": true, "flags:O_RDONLY": false,
		"latency:>10ms": true, "latency:>20ms": false, "latency:15000000": true, "latency:<1s": true,
		"lat:>1ms": true, "lat:1500": true, "lat:<1.4ms": false,
		"bytes:>4KB": true, "bytes:>4K": true, "bytes:>4.9KiB": false, "bytes:<1M": true,
		// A threshold between two of the field's whole values: lat is
		// 1500 us, bytes 5000 (4.883KiB is 5000.19 bytes).
		"lat:<1500.5us": true, "lat:>1499.5us": true, "lat:>=1500.5us": false, "lat:<=1499.9us": false,
		"lat:1500.5us": false, "lat:!1500.5us": true, "lat:<1.5001ms": true, "lat:>=1.4999ms": true,
		"bytes:<4.883KiB": true, "bytes:>=4.883KiB": false, "bytes:<=4.8828125KiB": true,
		"nested.name:web": true, "inner.name:web": true, "nested.id:~^a": true, "nested.id:x": false,
		"PID:1200": true, // column names in any case
	} {
		fl, err := s.ParseFilters([]string{spec})
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := MatchRow(fl, &row); got != want {
			t.Errorf("%s: %v, want %v", spec, got, want)
		}
	}
	// All must hold.
	fl, _ := s.ParseFilters([]string{"comm:nginx", "pid:>2000"})
	if MatchRow(fl, &row) {
		t.Error("comm:nginx and pid:>2000: passed, but pid is 1200")
	}
	rows := Keep(fl, []filterRow{row, {Comm: "nginx", Pid: 3000}})
	if len(rows) != 1 || rows[0].Pid != 3000 {
		t.Errorf("Keep: %+v", rows)
	}
}

// TestFilterErrors: an unknown column, a value the column cannot hold, a
// bad regular expression are errors; the first two list the columns.
func TestFilterErrors(t *testing.T) {
	s := NewSchema[filterRow]()
	for spec, want := range map[string]string{
		"nosuch:1":         `unknown column "nosuch"; valid columns: comm,pid,ret,avg,flags,lat,inner.name,ok,latency,bytes,nested.id`,
		"pid:abc":          `column pid holds a number ≥ 0, not "abc"; valid columns: comm,`,
		"pid:-1":           `column pid holds a number ≥ 0`,
		"ret:1.5":          `column ret holds a number, not "1.5"`,
		"ok:maybe":         `column ok holds true or false`,
		"latency:>10x":     `column latency holds a number ≥ 0 (ns, or a duration such as 10ms), not "10x"`,
		"bytes:4Q":         `a size such as 4KiB`,
		"bytes:>99999999T": `a size such as 4KiB`, // past int64: no wrap to a negative
		"latency:<-1ns":    `column latency holds a number ≥ 0`,
		"comm:~(":          `bad regular expression`,
		"nested:web":       `unknown column "nested"`,
		"comm":             `want COLUMN:VALUE`,
	} {
		_, err := s.ParseFilters([]string{spec})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("-F %s: %v, want %q", spec, err, want)
		}
	}
}

// TestPushable: only an equality can be done by the kernel.
func TestPushable(t *testing.T) {
	s := NewSchema[filterRow]()
	fl, _ := s.ParseFilters([]string{"pid:>5", "comm:nginx"})
	if fl.Pushable("pid") != "" || fl.Pushable("comm") != "nginx" {
		t.Errorf("pid %q, comm %q", fl.Pushable("pid"), fl.Pushable("comm"))
	}
}

// TestRelativeColumns: +a,-b change the defaults; groups expand; a JSON
// field without a column is shown by its path.
func TestRelativeColumns(t *testing.T) {
	s := NewSchema[filterRow]()
	for spec, want := range map[string]string{
		"+avg,-pid":   "comm,ret,avg",
		"-ret":        "comm,pid",
		"pid,latency": "pid,latency",
		"+nested.id":  "comm,pid,ret,nested.id",
		"+comm":       "comm,pid,ret",
	} {
		fs, err := s.resolveColumns(strings.Split(spec, ","), []string{"comm", "pid", "ret"})
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.column)
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %s, want %s", spec, strings.Join(got, ","), want)
		}
	}
	if _, err := s.resolveColumns([]string{"+nosuch"}, []string{"comm"}); err == nil || !strings.Contains(err.Error(), "valid columns: comm,pid") {
		t.Errorf("+nosuch: %v", err)
	}
}

// TestFilterAllocs: a filter checks an event without allocating, whatever
// its operator and the field's kind (it runs for every event ig receives).
func TestFilterAllocs(t *testing.T) {
	s := NewSchema[filterRow]()
	row := filterRow{Comm: "nginx", Pid: 1200, Flags: []string{"O_RDONLY", "O_CLOEXEC"}, Lat: 1500}
	for _, spec := range []string{"comm:nginx", "pid:>5", "lat:<2ms", "comm:~^ng", "comm:!~x$", "pid:~^12", "flags:O_RDONLY|O_CLOEXEC", "flags:~CLOEXEC"} {
		fl, err := s.ParseFilters([]string{spec})
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { MatchRow(fl, &row) }); n != 0 {
			t.Errorf("-F %s: %.0f allocations an event", spec, n)
		}
	}
}
