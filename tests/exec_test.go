package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestTraceExec execs /bin/true with unusual arguments, and a missing
// program, as children of the test, and checks their events.
func TestTraceExec(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	trueExe, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	ig := startIG(t, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("ig-ready"))

	from := time.Now()
	okArgs := []string{unique("ig-test"), "a b", ""}
	okPid := runTrue(t, "", okArgs...)

	missing := filepath.Join(t.TempDir(), unique("ig-noexec"))
	failArgs := []string{unique("ig-fail"), "x  y", ""}
	cmd := exec.Command(missing, failArgs...)
	if err := cmd.Run(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("exec of %s: %v, want ENOENT", missing, err)
	}
	to := time.Now()
	ig.waitExecJSON(unique("ig-done"))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)
	mntns := mountNsID(t)

	t.Run("success", func(t *testing.T) {
		want := append([]string{"/bin/true"}, okArgs...)
		ev := findOne(t, evs, fmt.Sprintf("/bin/true %q", okArgs), func(ev *execEvent) bool {
			return len(ev.Args) > 1 && ev.Args[1] == okArgs[0]
		})
		if !slices.Equal(ev.Args, want) {
			t.Errorf("args %q, want %q", ev.Args, want)
		}
		if ev.Pid != int64(okPid) || ev.Tid != int64(okPid) || ev.Ppid != int64(os.Getpid()) {
			t.Errorf("pid/tid/ppid %d/%d/%d, want %d/%d/%d", ev.Pid, ev.Tid, ev.Ppid, okPid, okPid, os.Getpid())
		}
		if ev.Ret != 0 || ev.Err != 0 || ev.Error != "" {
			t.Errorf("ret %d err %d error %q, want 0 0 \"\"", ev.Ret, ev.Err, ev.Error)
		}
		if ev.Comm != "true" {
			t.Errorf("comm %q, want \"true\"", ev.Comm)
		}
		if ev.ExePath != trueExe {
			t.Errorf("exepath %q, want %q", ev.ExePath, trueExe)
		}
		if ev.Uid != 0 || ev.Gid != 0 {
			t.Errorf("uid/gid %d/%d, want 0/0", ev.Uid, ev.Gid)
		}
		if ev.MountNsID != mntns {
			t.Errorf("mountnsid %d, want %d", ev.MountNsID, mntns)
		}
		if ev.ArgsTruncated {
			t.Error("argsTruncated is true for 4 short arguments")
		}
		if ev.Cwd != "" {
			t.Errorf("cwd %q without --cwd, want \"\"", ev.Cwd)
		}
		checkNear(t, "exec", ev.Timestamp, from, to)
	})

	t.Run("missing program", func(t *testing.T) {
		want := append([]string{missing}, failArgs...)
		ev := findOne(t, evs, "the exec of "+missing, func(ev *execEvent) bool {
			return len(ev.Args) > 1 && ev.Args[1] == failArgs[0]
		})
		if !slices.Equal(ev.Args, want) {
			t.Errorf("args %q, want %q as passed", ev.Args, want)
		}
		if ev.Ret != -2 || ev.Err != 2 || ev.Error != "ENOENT" {
			t.Errorf("ret %d err %d error %q, want -2 2 ENOENT", ev.Ret, ev.Err, ev.Error)
		}
		if ev.ExePath != missing {
			t.Errorf("exepath %q, want %q as passed", ev.ExePath, missing)
		}
		// The child that failed to exec is still a fork of this test.
		if ev.Ppid != int64(os.Getpid()) || ev.Pid == int64(os.Getpid()) || ev.Pid <= 0 || ev.Comm != comm {
			t.Errorf("pid %d ppid %d comm %q, want a child of %d with comm %q", ev.Pid, ev.Ppid, ev.Comm, os.Getpid(), comm)
		}
		if ev.Uid != 0 || ev.ArgsTruncated {
			t.Errorf("uid %d argsTruncated %v, want 0 false", ev.Uid, ev.ArgsTruncated)
		}
		checkNear(t, "failed exec", ev.Timestamp, from, to)
	})
}

// TestTraceExecCwd: --cwd reports the working directory the child runs in.
func TestTraceExecCwd(t *testing.T) {
	igBinary(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ig := startIG(t, "trace", "exec", "-o", "json", "--cwd")
	ig.waitExecJSON(unique("ig-ready"))
	arg := unique("ig-cwd")
	pid := runTrue(t, dir, arg)
	ig.waitExecJSON(unique("ig-done"))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	ev := findOne(t, eventsOf[execEvent](t, r.Stdout), "/bin/true "+arg, func(ev *execEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == arg
	})
	if ev.Pid != int64(pid) || ev.Ret != 0 {
		t.Errorf("pid %d ret %d, want %d 0", ev.Pid, ev.Ret, pid)
	}
	if ev.Cwd != dir {
		t.Errorf("cwd %q, want %q", ev.Cwd, dir)
	}
}

// TestTraceExecArgs execs /bin/true, and a missing program, with argument
// lists of every length from 1 to 80, with 3000 arguments, and with one
// argument of 10000 bytes. Whatever ig keeps must be a prefix of the
// arguments passed, and argsTruncated must say exactly whether some were cut.
// Lists too long for ig (3000 arguments, 10000 bytes) must be cut.
func TestTraceExecArgs(t *testing.T) {
	igBinary(t)
	missing := filepath.Join(t.TempDir(), unique("ig-noexec"))
	type argCase struct {
		name    string
		exe     string
		args    []string // args[0] is unique: it finds the event
		mustCut bool
	}
	var cases []argCase
	for _, exe := range []string{"/bin/true", missing} {
		for n := 1; n <= 80; n++ {
			args := []string{unique("ig-args")}
			for i := 1; i < n; i++ {
				args = append(args, fmt.Sprintf("a%d", i))
			}
			cases = append(cases, argCase{name: fmt.Sprintf("%s with %d arguments", exe, n+1), exe: exe, args: args})
		}
		long := []string{unique("ig-long")}
		for i := 1; i < 3000; i++ {
			long = append(long, fmt.Sprintf("a%09d", i)) // 10 characters each
		}
		cases = append(cases,
			argCase{name: exe + " with 3001 arguments", exe: exe, args: long, mustCut: true},
			argCase{name: exe + " with an argument of 10000 bytes", exe: exe, args: []string{unique("ig-big"), strings.Repeat("b", 10000)}, mustCut: true})
	}

	ig := startIG(t, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("ig-ready"))
	for _, c := range cases {
		err := exec.Command(c.exe, c.args...).Run()
		if (c.exe == missing) != errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	ig.waitExecJSON(unique("ig-done"))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)

	for _, c := range cases {
		passed := append([]string{c.exe}, c.args...)
		ev := findOne(t, evs, c.name, func(ev *execEvent) bool {
			return len(ev.Args) > 1 && ev.Args[1] == c.args[0]
		})
		cut := len(ev.Args) < len(passed)
		if len(ev.Args) > len(passed) {
			t.Errorf("%s: %d arguments reported", c.name, len(ev.Args))
			continue
		}
		if i := firstDiff(ev.Args, passed); i >= 0 {
			t.Errorf("%s: the arguments kept are not a prefix of those passed: argument %d is %.24q (%d bytes), passed %.24q (%d bytes); %d kept, argsTruncated %v",
				c.name, i, ev.Args[i], len(ev.Args[i]), passed[i], len(passed[i]), len(ev.Args), ev.ArgsTruncated)
			continue
		}
		if c.mustCut && !cut {
			t.Errorf("%s: all %d arguments kept, want them cut", c.name, len(passed))
		}
		if ev.ArgsTruncated != cut {
			t.Errorf("%s: argsTruncated is %v, but %d of %d arguments are reported", c.name, ev.ArgsTruncated, len(ev.Args), len(passed))
		}
	}
}

// firstDiff returns the index of the first of kept that differs from passed, or -1.
func firstDiff(kept, passed []string) int {
	for i, a := range kept {
		if a != passed[i] {
			return i
		}
	}
	return -1
}
