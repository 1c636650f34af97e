package tracers

import (
	"fmt"
	"strings"

	"github.com/ig-tracer/ig/output"
)

// FieldsMarkdown is docs/fields.md: the fields every event has, then each
// gadget's own, from the schemas and their `desc` tags. A test keeps the
// file equal to it.
func FieldsMarkdown() string {
	var b strings.Builder
	b.WriteString(`# Fields

<!-- Generated from the gadgets' schemas (their desc tags) by tracers.FieldsMarkdown.
     Do not edit: TestFieldsReference keeps this file equal to it, and
     go test -run TestFieldsReference -update . rewrites it. -->

JSON names are those of Inspektor Gadget's ig, so jq filters written for it keep working;
ig never omits a field because it is zero (uid 0 is root, not missing). The column is the
name for ` + "`-o columns=`" + ` where it differs from the JSON name; a row without a JSON
field is a column only. Container fields are empty for host processes.

## Every event

`)
	common := output.NewSchema[Event]().Doc()
	fieldsTable(&b, common)
	isCommon := map[output.FieldDoc]bool{}
	for _, f := range common {
		isCommon[f] = true
	}
	for _, g := range Gadgets() {
		var own []output.FieldDoc
		for _, f := range g.Schema.Doc() {
			if !isCommon[f] {
				own = append(own, f)
			}
		}
		fmt.Fprintf(&b, "\n## `%s`\n\n", g.FullName())
		if len(own) == 0 {
			b.WriteString("The fields every event has, and no more.\n")
			continue
		}
		fieldsTable(&b, own)
	}
	return b.String()
}

func fieldsTable(b *strings.Builder, fields []output.FieldDoc) {
	b.WriteString("| JSON field | column | meaning |\n|---|---|---|\n")
	for _, f := range fields {
		json, column := "", ""
		if f.JSON != "" {
			json = "`" + f.JSON + "`"
		}
		if f.Column != "" && f.Column != f.JSON {
			column = "`" + f.Column + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %s |\n", json, column, strings.ReplaceAll(f.Desc, "|", `\|`))
	}
}
