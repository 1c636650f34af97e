package tests

import (
	"strings"
	"testing"
)

// TestCommonFlagsPosition: common flags work before the command and after
// the gadget name alike.
func TestCommonFlagsPosition(t *testing.T) {
	igBinary(t)
	for _, args := range [][]string{
		{"-o", "json", "trace", "open", "-t", "1"},
		{"trace", "open", "-o", "json", "-t", "1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			marker := newMarkerFile(t)
			ig := startIG(t, args...)
			ig.waitOpenJSON(marker)
			r := ig.wait() // -t 1 ends it
			checkSuccess(t, r)
			evs := eventsOf[openEvent](t, r.Stdout) // every line one JSON object
			if countOf(evs, func(ev *openEvent) bool { return ev.Path == marker }) == 0 {
				t.Errorf("no JSON event for %s", marker)
			}
		})
	}
}

// TestVersion: `ig version` names ig and the commit it was built from.
func TestVersion(t *testing.T) {
	r := runIG(t, "version")
	checkSuccess(t, r)
	out := string(r.Stdout)
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("want one line on stdout: %s", r)
	}
	if !strings.Contains(out, "ig ") || !strings.Contains(out, "commit") {
		t.Errorf("version line %q lacks \"ig \" or \"commit\"", strings.TrimSpace(out))
	}
	if len(r.Stderr) != 0 {
		t.Errorf("stderr not empty: %s", r)
	}
}
