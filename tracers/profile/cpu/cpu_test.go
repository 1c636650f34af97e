package cpu

import (
	"bytes"
	"encoding/xml"
	"testing"
)

var testRows = []Report{
	{Pid: 1, Comm: "a b", UserStack: []string{"leaf", "mid", "main"}, KernelStack: []string{"kfn"}, Count: 5},
	{Pid: 2, Comm: "a b", UserStack: []string{"leaf", "mid", "main"}, KernelStack: []string{"kfn"}, Count: 2},
	{Pid: 3, Comm: "c", UserStack: []string{"x;y"}, KernelStack: []string{}, Count: 1},
}

func TestFolded(t *testing.T) {
	var b bytes.Buffer
	if err := writeFolded(&b, testRows); err != nil {
		t.Fatal(err)
	}
	want := "a_b;main;mid;leaf;kfn_[k] 7\nc;x:y 1\n"
	if b.String() != want {
		t.Errorf("folded:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestFlameGraph(t *testing.T) {
	var b bytes.Buffer
	if err := writeFlameGraph(&b, testRows); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&b)
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v", err)
			}
			break
		}
		if el, ok := tok.(xml.StartElement); ok && el.Name.Local == "rect" {
			rects++
		}
	}
	// The background, all, 2 comms, main, mid, leaf, kfn, x:y.
	if rects != 9 {
		t.Errorf("%d boxes, want 9", rects)
	}
}
