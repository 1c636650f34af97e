package tests

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// traceloopRow is a system call of an ig traceloop dump, as JSON.
type traceloopRow struct {
	commonEvent
	CPU        *int   `json:"cpu"`
	Syscall    string `json:"syscall"`
	Parameters []struct {
		Name    string `json:"name"`
		Value   string `json:"value"`
		Content string `json:"content"`
	} `json:"parameters"`
	Ret    string `json:"ret"`
	Retval int64  `json:"retval"`
}

// param is the value of a row's argument name, or its content when it is
// a string; "<none>" when the row has no such argument.
func (r *traceloopRow) param(name string) string {
	for _, p := range r.Parameters {
		if p.Name == name {
			if p.Content != "" {
				return p.Content
			}
			return p.Value
		}
	}
	return "<none>"
}

// indexOf is the index of the first row that matches, -1 for none.
func indexOf(rows []traceloopRow, match func(*traceloopRow) bool) int {
	return slices.IndexFunc(rows, func(r traceloopRow) bool { return match(&r) })
}

// TestTraceloop: a container of docker and one of podman each run a known
// sequence (sh writes a file, cat reads it, ls looks for one that is not
// there); SIGUSR1 dumps each one's recorder, which shows the three system
// calls in that order, with their paths, flags and results, in that
// container. A second dump (Ctrl-C) shows only what came after the first.
func TestTraceloop(t *testing.T) {
	runtimesUp(t)
	for _, kind := range []string{"docker", "podman"} {
		t.Run(kind, func(t *testing.T) {
			name, pid := container(t, kind)
			ig := startIG(t, "traceloop", "-c", name, "-o", "json", "-v")
			ig.waitStderr("recording " + name + " (")
			file, missing := "/tmp/"+unique("igt-tl"), "/"+unique("igt-tl-missing")
			inContainer(t, kind, name, "sh", "-c", "echo hi > "+file+"; cat "+file+"; ls "+missing+" || true")
			if err := ig.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			ig.waitUntil("the dump of "+name, nil, func(out []byte) bool { return strings.Contains(string(out), missing) })
			time.Sleep(200 * time.Millisecond) // the rest of the dump
			dumped := len(ig.stdout.Bytes())
			r := ig.stop(sigINT)
			checkSuccess(t, r)
			rows := eventsOf[traceloopRow](t, r.Stdout[:dumped])
			for _, row := range rows {
				if row.Runtime.ContainerName != name || row.Runtime.RuntimeName != kind || row.MountNsID != mountNsOf(t, pid) || row.CPU == nil {
					t.Fatalf("a row not of container %s (%s): %+v", name, kind, row)
				}
			}
			write := indexOf(rows, func(r *traceloopRow) bool {
				return r.Comm == "sh" && r.Syscall == "openat" && r.param("filename") == file
			})
			read := indexOf(rows, func(r *traceloopRow) bool {
				return r.Comm == "cat" && r.Syscall == "openat" && r.param("filename") == file
			})
			look := indexOf(rows, func(r *traceloopRow) bool {
				return r.Comm == "ls" && strings.Contains(r.Syscall, "stat") && r.param("filename") == missing
			})
			if write < 0 || read < 0 || look < 0 || !(write < read && read < look) {
				t.Fatalf("want sh's open of %s, then cat's, then ls's stat of %s, in that order: at %d, %d, %d of\n%s", file, missing, write, read, look, r.Stdout[:dumped])
			}
			w, rd, l := rows[write], rows[read], rows[look]
			if w.param("dfd") != "AT_FDCWD" || w.param("flags") != "O_WRONLY|O_CREAT|O_TRUNC|O_LARGEFILE" && w.param("flags") != "O_WRONLY|O_CREAT|O_TRUNC" ||
				w.param("mode") != "0666" || w.Retval < 0 || w.Ret != strconv.FormatInt(w.Retval, 10) {
				t.Errorf("sh's open: %+v", w)
			}
			if !strings.HasPrefix(rd.param("flags"), "O_RDONLY") || rd.Retval < 0 || rd.Pid != rd.Tid {
				t.Errorf("cat's open: %+v", rd)
			}
			if l.Ret != "-1 ENOENT" || l.Retval != -2 {
				t.Errorf("ls's stat of a missing file: want -1 ENOENT (-2): %+v", l)
			}
			// The dump at the end shows what came after the first one.
			if later := eventsOf[traceloopRow](t, r.Stdout[dumped:]); indexOf(later, func(r *traceloopRow) bool { return r.param("filename") == file }) >= 0 {
				t.Errorf("the second dump shows again what the first did:\n%s", r.Stdout[dumped:])
			}
		})
	}
}

// TestTraceloopFailure: a container whose first process exits with 3 has
// its recorder dumped as it fails, with no signal sent to ig: the dump
// shows its last system calls, the exit_group(3) among them. One that
// exits with 0 is not dumped.
func TestTraceloopFailure(t *testing.T) {
	runtimesUp(t)
	ig := startIG(t, "traceloop", "--containers", "-o", "json", "-v")
	ig.waitVerboseAttached()
	// It waits for ig to record it before it does anything.
	script := func(code string) string { return "sleep 2; cat /etc/hostname; exit " + code }
	t.Setenv("RUN_SCRIPT", script("0"))
	fine, _ := container(t, "podman")
	t.Setenv("RUN_SCRIPT", script("3"))
	failed, pid := container(t, "docker")
	os.Unsetenv("RUN_SCRIPT")
	ig.waitUntil("the dump of "+failed, nil, func(out []byte) bool {
		return strings.Contains(string(out), `"exit_group"`) && strings.Contains(string(out), failed)
	})
	time.Sleep(time.Second) // the other container's end, which must not be dumped
	dumped := len(ig.stdout.Bytes())
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	rows := eventsOf[traceloopRow](t, r.Stdout[:dumped])
	for _, row := range rows {
		if row.Runtime.ContainerName != failed {
			t.Fatalf("a dump before the end of a container but %s: %+v", failed, row)
		}
	}
	cat := indexOf(rows, func(r *traceloopRow) bool {
		return r.Comm == "cat" && r.Syscall == "openat" && r.param("filename") == "/etc/hostname" && r.Retval >= 0
	})
	exit := indexOf(rows, func(r *traceloopRow) bool {
		return r.Comm == "sh" && r.Syscall == "exit_group" && r.param("error_code") == "3" && r.Pid == int64(pid)
	})
	if cat < 0 || exit < 0 || cat > exit {
		t.Fatalf("want cat's open of /etc/hostname, then sh's (pid %d) exit_group(3): at %d, %d of\n%s", pid, cat, exit, r.Stdout[:dumped])
	}
	if !strings.Contains(string(r.Stderr), "recording "+fine+" (") {
		t.Errorf("%s, which exited with 0, was not recorded:\n%s", fine, r.Stderr)
	}
}

// TestTraceloopHost: with no container selected the host is recorded;
// --syscall-filters keeps only the system calls named, and ig's own are
// never recorded.
func TestTraceloopHost(t *testing.T) {
	igBinary(t)
	ig := startIG(t, "traceloop", "--syscall-filters", "openat,close", "-o", "json", "-v")
	ig.waitStderr("recording the host (")
	path := missingPath(t)
	tryOpen(path)
	time.Sleep(100 * time.Millisecond)
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	rows := eventsOf[traceloopRow](t, r.Stdout)
	findOne(t, rows, "this test's open of "+path, func(r *traceloopRow) bool {
		return r.Syscall == "openat" && r.param("filename") == path && r.Pid == int64(os.Getpid()) && r.Ret == "-1 ENOENT" && r.Runtime.ContainerName == ""
	})
	for _, row := range rows {
		if row.Syscall != "openat" && row.Syscall != "close" {
			t.Fatalf("--syscall-filters openat,close: a %s: %+v", row.Syscall, row)
		}
		if row.Pid == int64(ig.cmd.Process.Pid) {
			t.Fatalf("ig's own system call recorded: %+v", row)
		}
	}
}

// TestTraceloopErrors: bad input is one line and a non-zero exit.
func TestTraceloopErrors(t *testing.T) {
	igBinary(t)
	msg := checkFailure(t, runIG(t, "traceloop", "--syscall-filters", "openat,nosuchcall"))
	if !strings.Contains(msg, "--syscall-filters nosuchcall: no such system call") {
		t.Errorf("unknown system call: %q", msg)
	}
}

// TestTraceloopDetach: Ctrl-C leaves none of traceloop's programs loaded.
func TestTraceloopDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{name: "traceloop -t", args: []string{"traceloop", "-o", "json", "-t", "2"},
		progs: []string{"ig_traceloop_en", "ig_traceloop_ex", "ig_traceloop_pr"}})
}

// waitStderr waits until ig says what on stderr (under -v).
func (p *proc) waitStderr(what string) {
	p.t.Helper()
	deadline := time.Now().Add(attachTimeout)
	for !strings.Contains(p.stderr.String(), what) {
		if p.exited() || time.Now().After(deadline) {
			p.t.Fatalf("ig did not say %q: %s", what, p.wait())
		}
		time.Sleep(pollEvery)
	}
}
