package cli

import (
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Each command's help lists the flags that apply to it, and no other.
func TestHelpListsOnlyApplicableFlags(t *testing.T) {
	gadget := []string{"--output", "--verbose", "--timeout", "--host", "--pid", "--comm", "--containername", "--containers",
		"--runtimes", "--podman-socketpath", "--kernel-config", "--btf", "--btf-sources"}
	for _, tc := range []struct {
		path      []string
		has, lack []string
	}{
		{[]string{"trace", "open"}, append(gadget, "--failed"), nil},
		{[]string{"trace"}, gadget, []string{"--failed"}},
		{[]string{"requirements"}, []string{"--output", "--verbose", "--kernel-config", "--btf", "--btf-sources", "--markdown"},
			[]string{"--timeout", "--pid", "--comm", "--host", "--containername", "--runtimes"}},
		{[]string{"list-containers"}, []string{"--output", "--verbose", "--timeout", "--runtimes", "--podman-socketpath", "--watch"},
			[]string{"--pid", "--comm", "--host", "--containername", "--kernel-config", "--btf"}},
		{[]string{"version"}, nil, []string{"--output", "--pid", "--kernel-config"}},
	} {
		out, err := runApp(t, append(tc.path, "--help")...)
		if err != nil {
			t.Fatalf("ig %s --help: %v", strings.Join(tc.path, " "), err)
		}
		for _, f := range tc.has {
			if !regexp.MustCompile(`(?m)^\s+` + f + `\b`).MatchString(out) {
				t.Errorf("ig %s --help lacks %s:\n%s", strings.Join(tc.path, " "), f, out)
			}
		}
		for _, f := range tc.lack {
			if strings.Contains(out, f+" ") || strings.Contains(out, f+",") {
				t.Errorf("ig %s --help offers %s, which does not apply to it:\n%s", strings.Join(tc.path, " "), f, out)
			}
		}
	}
}

// A flag given before the command (or after a category) that the command
// does not take is refused, naming it, before the command does anything.
func TestFlagsThatDoNotApply(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pid", "1", "requirements"}, "--pid does not apply to 'ig requirements'"},
		{[]string{"--timeout", "1", "requirements", "--markdown"}, "--timeout does not apply to 'ig requirements'"},
		{[]string{"--btf", "/nope", "list-containers"}, "--btf does not apply to 'ig list-containers'"},
		{[]string{"--comm", "x", "version"}, "--comm does not apply to 'ig version'"},
		{[]string{"requirements", "--pid", "1"}, "flag provided but not defined: -pid"},
		{[]string{"list-containers", "--host"}, "flag provided but not defined: -host"},
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

// The flags that apply are read wherever they are given: before the
// command, after a category, after the command.
func TestFlagsAnyPosition(t *testing.T) {
	for _, args := range [][]string{
		{"requirements", "--kernel-config", "/nope"},
		{"--kernel-config", "/nope", "requirements"},
	} {
		if _, err := runApp(t, args...); err == nil || !strings.Contains(err.Error(), "kernel config: open /nope") {
			t.Errorf("ig %s: error %v, want one about reading /nope", strings.Join(args, " "), err)
		}
	}
	// -o is checked before anything else a gadget does: a bad value shows
	// where ig read it from.
	for _, args := range [][]string{
		{"-o", "bogus", "trace", "open"},
		{"trace", "-o", "bogus", "open"},
		{"trace", "open", "-o", "bogus"},
	} {
		if _, err := runApp(t, args...); err == nil || !strings.Contains(err.Error(), "bogus") {
			t.Errorf("ig %s: error %v, want one about -o bogus", strings.Join(args, " "), err)
		}
	}
}

// -F given at several levels: every one holds, none is dropped (a bad
// one anywhere is an error).
func TestFiltersEveryLevel(t *testing.T) {
	// -t 1: should a filter be dropped, the gadget runs (as root) and
	// ends, rather than running on.
	for _, args := range [][]string{
		{"-F", "nosuch:1", "trace", "open", "-F", "comm:x", "-t", "1"},
		{"trace", "-F", "nosuch:1", "open", "-F", "comm:x", "-t", "1"},
		{"-F", "comm:x", "trace", "-F", "pid:1", "open", "-F", "nosuch:1", "-t", "1"},
	} {
		if _, err := runApp(t, args...); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
			t.Errorf("ig %s: error %v, want one about the column nosuch", strings.Join(args, " "), err)
		}
	}
}

// No two flags of a gadget share a name or an alias: cli would panic when
// the gadget runs (profile cpu's -F, its frequency in bcc, was -F/--filter's
// too). Every gadget's flags are set up as cli does it.
func TestNoFlagNamedTwice(t *testing.T) {
	for _, cmd := range gadgetCommands() {
		leaves := []*cli.Command{cmd}
		if len(cmd.Subcommands) > 0 {
			leaves = cmd.Subcommands
		}
		for _, leaf := range leaves {
			seen := map[string]bool{}
			for _, f := range leaf.Flags {
				for _, name := range f.Names() {
					if seen[name] {
						t.Errorf("%s %s: flag %q defined twice", cmd.Name, leaf.Name, name)
					}
					seen[name] = true
				}
			}
		}
	}
}
