package main

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/tests/kernels/matrix"
	"github.com/ig-tracer/ig/tracers"
)

// The README's requirements table is `ig requirements --markdown`, verbatim.
func TestReadmeRequirementsTable(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	const begin, end = "<!-- requirements:begin -->\n", "<!-- requirements:end -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q block", begin, end)
	}
	if got, want := s[i+len(begin):j], tracers.MarkdownTable(); got != want {
		t.Errorf("README.md's requirements table is stale; regenerate it with `ig requirements --markdown`.\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// The README's kernel matrix is testdata/kernel-matrix.json (written by `make kernels`), rendered.
func TestReadmeKernelMatrix(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, ok := matrix.ReadmeBlock(string(data))
	if !ok {
		t.Fatalf("README.md lacks the %q ... %q block", matrix.ReadmeBegin, matrix.ReadmeEnd)
	}
	m, err := matrix.Load("testdata/kernel-matrix.json")
	if err != nil {
		t.Fatal(err)
	}
	if want := m.Markdown(); got != want {
		t.Errorf("README.md's kernel matrix is stale; `make kernels` rewrites it (or: go run ./tests/kernels/matrix/cmd -readme README.md testdata/kernel-matrix.json).\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// The first lines are the newcomer's two commands, and .ci/run runs the second.
func TestReadmeSetupCommands(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(data), "\n", 5)
	if !strings.HasPrefix(lines[2], "Build and run") || !strings.HasPrefix(lines[3], "Test (as root): `") {
		t.Errorf("README.md must start with the build-and-run and test commands, got %q", lines[:4])
	}
}

// The README points only inside the repository: its links are anchors or
// files of the repository, and it names no web address (a reader may be
// offline, and outside pages change).
func TestReadmeLinksStayInside(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if m := regexp.MustCompile(`(?i)\b(https?|ftp)://\S+`).FindString(text); m != "" {
		t.Errorf("README.md links outside the repository: %s", m)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)\s]+)\)`).FindAllStringSubmatch(text, -1) {
		target, _, _ := strings.Cut(m[1], "#")
		if target == "" {
			continue // an anchor of the README itself
		}
		if _, err := os.Stat(target); err != nil {
			t.Errorf("README.md links to %s, which is not in the repository: %v", m[1], err)
		}
	}
}

var update = flag.Bool("update", false, "rewrite docs/fields.md from the schemas")

// docs/fields.md is the gadgets' fields, as their schemas describe them.
func TestFieldsReference(t *testing.T) {
	want := tracers.FieldsMarkdown()
	if *update {
		if err := os.WriteFile("docs/fields.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("docs/fields.md")
	if err != nil {
		t.Fatalf("%v (go test -run TestFieldsReference -update . writes it)", err)
	}
	if string(got) != want {
		t.Errorf("docs/fields.md is not what the schemas say: go test -run TestFieldsReference -update . rewrites it")
	}
}
