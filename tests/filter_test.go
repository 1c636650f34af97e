package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// TestFilters: -F's operators on the events of a real gadget. One opener
// process opens a file that exists and two that do not; each ig run keeps
// only what its filters say, all of them holding.
func TestFilters(t *testing.T) {
	igBinary(t)
	op := startOpener(t)
	marker := unique("igf")
	exists := "/tmp/" + marker + "-exists"
	if err := os.WriteFile(exists, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(exists) })
	pid := strconv.Itoa(op.pid)
	cases := []struct {
		filters []string
		want    []string // the paths' suffixes shown, in order
	}{
		{[]string{"comm:" + op.comm, "error:ENOENT"}, []string{"-a", "-b"}},
		{[]string{"comm:" + op.comm, "error:!ENOENT"}, []string{"-exists"}},
		{[]string{"comm:" + op.comm, "path:~-b$"}, []string{"-b"}},
		{[]string{"pid:>=" + pid, "pid:<=" + pid, "path:~" + marker}, []string{"-exists", "-a", "-b"}},
		{[]string{"comm:~^igop", "pid:" + pid, "fd:>0"}, []string{"-exists"}}, // a regex is not the kernel's: user space
		{[]string{"runtime.containerName:", "pid:" + pid, "path:!" + exists, "path:~" + marker}, []string{"-a", "-b"}},
	}
	igs := make([]*proc, len(cases))
	for i, c := range cases {
		args := []string{"trace", "open", "-o", "json", "-v"}
		for _, f := range c.filters {
			args = append(args, "-F", f)
		}
		igs[i] = startIG(t, args...)
	}
	for _, ig := range igs {
		ig.waitVerboseAttached()
	}
	last := unique("igf-last")
	for _, s := range []string{"-exists", "-a", "-b"} {
		op.open(t, marker+s)
	}
	// Every ig has seen the opener's last open when the comm-and-pid one has.
	op.open(t, last)
	probe := startIG(t, "trace", "open", "-o", "json", "-F", "pid:"+pid, "-F", "path:~"+last)
	probe.waitUntil("the last open", func() { op.open(t, last) }, openSeen(last))
	probe.stop(sigINT)
	time.Sleep(300 * time.Millisecond)
	for i, c := range cases {
		r := igs[i].stop(sigINT)
		checkSuccess(t, r)
		var got []string
		for _, ev := range eventsOf[openEvent](t, r.Stdout) {
			if strings.Contains(ev.Path, last) {
				continue // the end's marker
			}
			if !strings.Contains(ev.Path, marker) {
				t.Errorf("-F %v: an open of %s by %s (%d)", c.filters, ev.Path, ev.Comm, ev.Pid)
				continue
			}
			got = append(got, strings.TrimPrefix(ev.Path, "/tmp/"+marker))
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("-F %v: shown %v, want %v", c.filters, got, c.want)
		}
	}
}

// TestFilterErrors: a bad -F is one line naming the valid columns, and a
// non-zero exit, before anything loads.
func TestFilterErrors(t *testing.T) {
	igBinary(t)
	for args, want := range map[string]string{
		"trace open -F nosuch:1":              `ig: -F "nosuch:1": unknown column "nosuch"; valid columns: runtime,containerid,container,`,
		"trace open -F pid:abc":               `ig: -F "pid:abc": column pid holds a number ≥ 0, not "abc"; valid columns: `,
		"trace open -F comm:~(":               `ig: -F "comm:~(": bad regular expression: `,
		"trace fsslower -F latency:>1parsec":  `column latency holds a number ≥ 0 (us, or a duration such as 10ms), not "1parsec"`,
		"snapshot process -F nosuch:1":        `unknown column "nosuch"`,
		"top file -F pid:x":                   `column pid holds a number`,
		"snapshot process -o columns=+nosuch": `unknown column "nosuch"; valid columns: `,
	} {
		msg := checkFailure(t, runIG(t, strings.Fields(args)...))
		if !strings.Contains(msg, want) {
			t.Errorf("ig %s: %q, want %q", args, msg, want)
		}
	}
}

// TestOutputYAML: -o yaml, a document per event, reads back as the event
// -o json gives; a snapshot is one sequence.
func TestOutputYAML(t *testing.T) {
	igBinary(t)
	path := missingPath(t)
	ig := startIG(t, "trace", "open", "-o", "yaml", "-F", "path:"+path)
	ig.waitUntil("the open in YAML", func() { tryOpen(path) }, func(out []byte) bool { return strings.Contains(string(out), path) })
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	docs := strings.Split(string(r.Stdout), "---\n")
	if docs[0] != "" || len(docs) < 2 {
		t.Fatalf("not YAML documents each after ---:\n%s", r.Stdout)
	}
	var ev openEvent
	if err := yaml.Unmarshal([]byte(docs[1]), &ev); err != nil {
		t.Fatalf("%v\n%s", err, docs[1])
	}
	if ev.Path != path || ev.Pid != int64(os.Getpid()) || ev.Error != "ENOENT" || ev.Comm != testComm(t) {
		t.Errorf("the open read back from YAML: %+v", ev)
	}

	r = runIG(t, "snapshot", "process", "-o", "yaml", "--pid", strconv.Itoa(os.Getpid()))
	checkSuccess(t, r)
	var procs []commonEvent
	if err := yaml.Unmarshal(r.Stdout, &procs); err != nil || len(procs) != 1 || procs[0].Pid != int64(os.Getpid()) {
		t.Fatalf("snapshot process -o yaml: %v %+v\n%s", err, procs, r.Stdout)
	}
}

// TestColumnsRelative: -o columns=+a,-b is relative to the gadget's
// columns; runtime and k8s stand for their columns; a JSON field without a
// column of its own is shown under its path.
func TestColumnsRelative(t *testing.T) {
	igBinary(t)
	pid := strconv.Itoa(os.Getpid())
	header := func(columns string) []string {
		r := runIG(t, "snapshot", "process", "--pid", pid, "-o", "columns="+columns)
		checkSuccess(t, r)
		lines := strings.Split(string(r.Stdout), "\n")
		return strings.Fields(lines[0])
	}
	plain := runIG(t, "snapshot", "process", "--pid", pid)
	checkSuccess(t, plain)
	def := strings.Fields(strings.Split(string(plain.Stdout), "\n")[0])
	rel := header("+tid,-pid")
	want := append(removed(def, "PID"), "TID")
	if strings.Join(rel, " ") != strings.Join(want, " ") || len(want) != len(def) {
		t.Errorf("columns=+tid,-pid: %v, want %v (defaults %v)", rel, want, def)
	}
	if got := header("k8s,comm"); strings.Join(got, " ") != "K8S.NODE K8S.NAMESPACE K8S.POD K8S.CONTAINER K8S.HOSTNETWORK COMM" {
		t.Errorf("columns=k8s,comm: %v", got)
	}
	if got := header("runtime"); strings.Join(got, " ") != "RUNTIME CONTAINERID CONTAINER CONTAINERPID IMAGE IMAGEDIGEST STARTEDAT" {
		t.Errorf("columns=runtime: %v", got)
	}
	if got := header("pid,type"); strings.Join(got, " ") != "PID TYPE" {
		t.Errorf("columns=pid,type (type has no column of its own): %v", got)
	}
}

func removed(s []string, x string) []string {
	var out []string
	for _, v := range s {
		if v != x {
			out = append(out, v)
		}
	}
	return out
}

// TestTerminalWidth: on a terminal (tmux, 80 columns) no line of ig's
// wraps: a long path is cut with an ellipsis.
func TestTerminalWidth(t *testing.T) {
	ig := igBinary(t)
	op := startOpener(t)
	long := unique("igw") + strings.Repeat("-long", 20)
	read := tmuxScreen(t, 80, 10, fmt.Sprintf("%s trace open --pid %d; sleep 30", ig, op.pid))
	var screen []string
	deadline := time.Now().Add(attachTimeout)
	for time.Now().Before(deadline) {
		op.open(t, long)
		screen = read()
		if strings.Contains(strings.Join(screen, "\n"), strconv.Itoa(op.pid)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	text := strings.Join(screen, "\n")
	event := ""
	for _, l := range screen {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("a line of %d columns on an 80-column terminal: %q", n, l)
		}
		if strings.Contains(l, strconv.Itoa(op.pid)) {
			event = l
		}
	}
	if event == "" || !strings.HasSuffix(event, "…") || !strings.Contains(event, "/tmp/igw") {
		t.Fatalf("no event line cut with an ellipsis; the screen:\n%s", text)
	}
}

// tmuxScreen runs cmd in a tmux terminal of width x height and returns
// what reads its screen, wrapped lines joined (-J): a line that wrapped
// comes back whole.
func tmuxScreen(t *testing.T, width, height int, cmd string) func() []string {
	t.Helper()
	tmux := requireTool(t, "tmux")
	socket := filepath.Join(t.TempDir(), "tmux.sock")
	session := unique("igw")
	run := func(args ...string) string {
		out, err := exec.Command(tmux, append([]string{"-S", socket}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("new-session", "-d", "-s", session, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), cmd)
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", socket, "kill-server").Run() })
	return func() []string {
		return strings.Split(strings.TrimRight(run("capture-pane", "-p", "-J", "-t", session), "\n"), "\n")
	}
}

// TestTerminalWidthTable: a snapshot's table, as wide as its content, is
// cut to a 60-column terminal too.
func TestTerminalWidthTable(t *testing.T) {
	ig := igBinary(t)
	read := tmuxScreen(t, 60, 50, fmt.Sprintf("%s snapshot process -m 40 -o columns=+runtime,+k8s,+time,+tid; sleep 30", ig))
	var screen []string
	deadline := time.Now().Add(attachTimeout)
	for time.Now().Before(deadline) {
		screen = read()
		if len(screen) > 10 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	cut := 0
	for _, l := range screen {
		if n := utf8.RuneCountInString(l); n > 60 {
			t.Errorf("a line of %d columns on a 60-column terminal: %q", n, l)
		}
		if strings.Contains(l, "…") {
			cut++
		}
	}
	if len(screen) < 10 || cut == 0 || !strings.HasPrefix(screen[0], "CON") || !strings.Contains(screen[0], "COMM") {
		t.Fatalf("want a table of processes, cut with ellipses; the screen:\n%s", strings.Join(screen, "\n"))
	}
}
