package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCommonFlagsPosition: common flags work before the command, after the
// category and after the gadget name alike.
func TestCommonFlagsPosition(t *testing.T) {
	igBinary(t)
	for _, args := range [][]string{
		{"-o", "json", "trace", "open", "-t", "1"},
		{"trace", "-o", "json", "open", "-t", "1"},
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

// TestVersionBuildInfo: built without the Makefile's -ldflags (a plain go
// build), ig names the commit Go recorded in the binary, "-dirty" when the
// checkout had changes.
func TestVersionBuildInfo(t *testing.T) {
	igBinary(t)
	goTool := requireTool(t, "go")
	bin := filepath.Join(t.TempDir(), "ig")
	build := exec.Command(goTool, "build", "-buildvcs=true", "-o", bin, ".")
	build.Dir = ".." // the module's root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	info, err := exec.Command(goTool, "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	rev := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=([0-9a-f]{40})$`).FindSubmatch(info)
	if rev == nil {
		t.Skipf("go build recorded no VCS revision (not a git checkout?):\n%s", info)
	}
	want := "ig dev (commit " + string(rev[1][:12])
	if bytes.Contains(info, []byte("vcs.modified=true")) {
		want += "-dirty"
	}
	want += ")\n"
	r := startCmd(t, bin, "version").wait()
	checkSuccess(t, r)
	if string(r.Stdout) != want {
		t.Errorf("ig version printed %q, want %q", r.Stdout, want)
	}
}

// TestHelp: `ig help`, `ig help CATEGORY` and `ig help CATEGORY GADGET` print
// what --help prints, on stdout.
func TestHelp(t *testing.T) {
	igBinary(t)
	for _, path := range [][]string{{}, {"trace"}, {"trace", "open"}, {"snapshot", "process"}} {
		want := runIG(t, append(path, "--help")...)
		checkSuccess(t, want)
		if len(want.Stdout) == 0 || len(want.Stderr) != 0 {
			t.Fatalf("--help: %s", want)
		}
		got := runIG(t, append([]string{"help"}, path...)...)
		checkSuccess(t, got)
		if !bytes.Equal(got.Stdout, want.Stdout) || len(got.Stderr) != 0 {
			t.Errorf("ig help %s is not ig %s --help:\n%s\nwant:\n%s", strings.Join(path, " "), strings.Join(path, " "), got, want.Stdout)
		}
	}
	r := runIG(t, "help", "trace", "open")
	checkSuccess(t, r)
	if !bytes.Contains(r.Stdout, []byte("ig trace open")) || !bytes.Contains(r.Stdout, []byte("--failed")) {
		t.Errorf("ig help trace open does not describe trace open: %s", r)
	}
}

// TestTimeoutHuge: a timeout longer than a Go duration holds means run that
// long (until Ctrl-C), not stop at once.
func TestTimeoutHuge(t *testing.T) {
	igBinary(t)
	for _, timeout := range []string{"1e10", "1e300"} {
		t.Run(timeout, func(t *testing.T) {
			ig := startIG(t, "trace", "open", "-o", "json", "--pid", strconv.Itoa(os.Getpid()), "-t", timeout)
			ig.waitOpenJSON(newMarkerFile(t))
			time.Sleep(time.Second)
			if ig.exited() {
				t.Fatalf("ig -t %s ended by itself: %s", timeout, ig.wait())
			}
			checkSuccess(t, ig.stop(sigINT))
		})
	}
}
