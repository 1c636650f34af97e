package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/tracers"
)

// runApp runs ig's command line with args and returns what it printed.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run(append([]string{"ig"}, args...))
	return out.String(), err
}

// `ig help X...` prints what `ig X... --help` does.
func TestHelpCommand(t *testing.T) {
	for _, path := range [][]string{{}, {"trace"}, {"trace", "open"}, {"trace", "exec"}, {"snapshot", "process"}, {"version"}, {"requirements"}} {
		name := strings.Join(append([]string{"help"}, path...), " ")
		want, err := runApp(t, append(path, "--help")...)
		if err != nil || want == "" {
			t.Fatalf("ig %s --help: %v, %q", strings.Join(path, " "), err, want)
		}
		for _, help := range []string{"help", "h"} {
			got, err := runApp(t, append([]string{help}, path...)...)
			if err != nil {
				t.Errorf("ig %s: %v", name, err)
			}
			if got != want {
				t.Errorf("ig %s printed\n%s\nwant, as ig %s --help:\n%s", name, got, strings.Join(path, " "), want)
			}
		}
	}
	if out, _ := runApp(t, "help", "trace", "open"); !strings.Contains(out, "ig trace open") || !strings.Contains(out, "--failed") {
		t.Errorf("ig help trace open does not describe trace open:\n%s", out)
	}
	if out, _ := runApp(t, "help"); !strings.Contains(out, "COMMANDS:") || !strings.Contains(out, "help") {
		t.Errorf("ig help lacks the command list:\n%s", out)
	}
}

func TestHelpUnknown(t *testing.T) {
	var trace []string // the trace gadgets, as the message lists them
	for _, g := range tracers.Gadgets() {
		if g.Category == "trace" {
			trace = append(trace, g.Name)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "nope"}, `unknown command "nope"; commands: `},
		{[]string{"help", "trace", "nope"}, "unknown gadget 'trace nope'; trace gadgets: " + strings.Join(trace, ", ")},
		{[]string{"help", "trace", "open", "nope"}, `'ig trace open' has no subcommand "nope"`},
	} {
		out, err := runApp(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ig %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
		if out != "" {
			t.Errorf("ig %s printed %q besides the error", strings.Join(tc.args, " "), out)
		}
	}
}

// traceGadgets lists the registered trace gadgets as ig names them.
func traceGadgets() string {
	var names []string
	for _, g := range tracers.Gadgets() {
		if g.Category == "trace" {
			names = append(names, g.Name)
		}
	}
	return strings.Join(names, ", ")
}
