package output

import (
	"bytes"
	"encoding/json"
	"testing"
)

type withRaw struct {
	Name string          `json:"name" column:"name,width:8"`
	Doc  json.RawMessage `json:"doc"`
	None json.RawMessage `json:"none"`
}

// TestRawJSON: a json.RawMessage field is written as is, an empty one as
// null (never omitted), as encoding/json does.
func TestRawJSON(t *testing.T) {
	s := NewSchema[withRaw]()
	var buf bytes.Buffer
	p, err := NewPrinter[withRaw](&buf, s, Format{Mode: ModeJSON}, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := withRaw{Name: "web", Doc: json.RawMessage(`{"a":[1,2],"b":{"c":"d"}}`)}
	p.Print(&row)
	p.Flush()
	want, _ := json.Marshal(row)
	if got := bytes.TrimSpace(buf.Bytes()); !bytes.Equal(got, want) {
		t.Errorf("got %s, want %s", got, want)
	}
}
