package output

import (
	"bytes"
	"math"
	"testing"
)

type averaged struct {
	Name    string  `json:"name" column:"name"`
	Average float64 `json:"average" column:"avg,right"`
}

func TestFloatField(t *testing.T) {
	s := NewSchema[averaged]()
	var buf bytes.Buffer
	p, err := NewPrinter[averaged](&buf, s, Format{Mode: ModeJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []averaged{{"a", 12.5}, {"b", 0}, {"c", math.NaN()}} {
		p.Print(&r)
	}
	p.Flush()
	want := `{"name":"a","average":12.5}` + "\n" + `{"name":"b","average":0}` + "\n" + `{"name":"c","average":0}` + "\n"
	if buf.String() != want {
		t.Fatalf("got  %s\nwant %s", buf.String(), want)
	}
	so, err := s.ParseSort("-avg")
	if err != nil {
		t.Fatal(err)
	}
	rows := []averaged{{"x", 1}, {"y", 3.5}, {"z", 2}}
	SortRows(rows, so)
	if rows[0].Name != "y" || rows[1].Name != "z" || rows[2].Name != "x" {
		t.Errorf("sorted by -avg: %+v", rows)
	}
}
