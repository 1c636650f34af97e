package output

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

type item struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

type yamlRow struct {
	sample
	Empty  []string        `json:"empty"`
	Items  []item          `json:"items"`
	None   []item          `json:"none"`
	Doc    json.RawMessage `json:"doc"`
	NoDoc  json.RawMessage `json:"noDoc"`
	Weird  string          `json:"weird"`
	Number float64         `json:"number"`
}

// A YAML document of ours reads back (sigs.k8s.io/yaml, which goes through
// a real YAML parser) as the same value as our JSON of the same row:
// nested structs, lists, lists of structs, raw documents, and strings that
// YAML would otherwise take for something else.
func TestYAMLReadsBackAsJSON(t *testing.T) {
	s := NewSchema[yamlRow]()
	// DEL, C1 controls, U+FFFE/U+FFFF, and YAML 1.1's line breaks NEL,
	// U+2028 and U+2029, are JSON's to write as they are but not YAML's: a
	// file name or an argument may hold them.
	refused := "a\x7fb\u0080c\u0085d\u009fe\ufffef\uffffg\u2028h\u2029i"
	row := yamlRow{sample: newSample(), Items: []item{{Name: "a", ID: "1"}, {Name: "b: c", ID: "- d"}, {Name: refused}},
		Doc: json.RawMessage(`{"k":[1,2,{"x":"y\u007f` + "\u0080\u009f\x7f\u0085\u2028" + `"}]}`), Weird: "yes", Number: 1.5, Empty: []string{refused}}
	row.Comm = refused
	for _, mode := range []Mode{ModeYAML} {
		var out, js bytes.Buffer
		p, err := NewPrinter[yamlRow](&out, s, Format{Mode: mode}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Print(&row)
		p.Print(&row)
		p.Flush()
		jp, _ := NewPrinter[yamlRow](&js, s, Format{Mode: ModeJSON}, nil)
		jp.Print(&row)
		jp.Flush()
		var want any
		if err := json.Unmarshal(js.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(out.String(), "---\n")
		if len(docs) != 3 || docs[0] != "" {
			t.Fatalf("want two documents, each after ---:\n%s", out.String())
		}
		for _, doc := range docs[1:] {
			j, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				t.Fatalf("not YAML: %v\n%s", err, doc)
			}
			var got any
			if err := json.Unmarshal(j, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("YAML reads back as\n%s\nwant\n%s\nfrom\n%s", j, js.Bytes(), doc)
			}
		}
	}
	// A snapshot's rows: one document, a sequence of them.
	var out bytes.Buffer
	p, _ := NewPrinter[yamlRow](&out, s, Format{Mode: ModeYAML}, nil)
	if err := p.PrintAll([]yamlRow{row, row}); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 2 || rows[1]["comm"] != refused {
		t.Fatalf("a snapshot: %v, %v\n%s", err, rows, out.String())
	}
}

// JSONToYAML keeps the JSON's key order, and reads back (through a real
// YAML parser) as the same value: nested objects and arrays, empty ones,
// arrays of arrays, keys and strings YAML would take for something else.
func TestJSONToYAML(t *testing.T) {
	js := `[{"pid":1,"comm":"a\u007fb\u2028c","ok":true,"none":null,"f":1.5,"e":{},"l":[],` +
		`"children":[{"pid":2,"children":[]},{"pid":3,"nested":{"z":1,"a":[[1,2],["x"]]},"children":[]}]},` +
		`{"yes":"no","1st":"- x","a b":"#c"},"plain",7]`
	y, err := JSONToYAML([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	back, err := yaml.YAMLToJSON(y)
	if err != nil {
		t.Fatalf("not YAML: %v\n%s", err, y)
	}
	var got, want any
	if err := json.Unmarshal(back, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(js), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("reads back as\n%s\nwant\n%s\nfrom\n%s", back, js, y)
	}
	s := string(y)
	if !strings.HasPrefix(s, "---\n- pid: 1\n  comm: ") || strings.Index(s, "pid: 1") > strings.Index(s, "children:") ||
		strings.Index(s, "z: 1") > strings.Index(s, "a:\n") {
		t.Errorf("keys out of their JSON order:\n%s", y)
	}
	if _, err := JSONToYAML([]byte(`{"a":`)); err == nil {
		t.Error("a cut document: no error")
	}
}
