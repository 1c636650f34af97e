package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
		if ev.ExePath != trueExe || ev.ExePathTruncated {
			t.Errorf("exepath %q (exepathTruncated %v), want %q whole", ev.ExePath, ev.ExePathTruncated, trueExe)
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
		if ev.Cwd != "" || ev.CwdTruncated {
			t.Errorf("cwd %q (cwdTruncated %v) without --cwd, want \"\"", ev.Cwd, ev.CwdTruncated)
		}
		checkNear(t, "exec", ev.Timestamp, from, to)
		checkExecFile(t, &ev, execFile{path: trueExe, stat: hostStat(t, trueExe)})
		// IG's fields: the parent is this test, on the host's filesystem.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Pcomm != comm || ev.ParentExePath != self || ev.ParentExePathTruncated {
			t.Errorf("pcomm %q, parent_exepath %q (truncated %v), want %q, %q", ev.Pcomm, ev.ParentExePath, ev.ParentExePathTruncated, comm, self)
		}
		if ev.Ptid <= 0 || !threadOf(os.Getpid(), int(ev.Ptid)) {
			t.Errorf("ptid %d is no thread of this test (pid %d)", ev.Ptid, os.Getpid())
		}
		if ev.UpperLayer || ev.PupperLayer {
			t.Errorf("upperlayer/pupperlayer %v/%v for programs of the host, not of an overlayfs", ev.UpperLayer, ev.PupperLayer)
		}
		for name, got := range map[string]int64{"loginuid": ev.LoginUid, "sessionid": ev.SessionId} {
			b, err := os.ReadFile("/proc/self/" + name)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(string(b)); fmt.Sprint(got) != want {
				t.Errorf("%s %d, want %s (/proc/self/%s)", name, got, want, name)
			}
		}
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
		if ev.ExePath != missing || ev.ExePathTruncated {
			t.Errorf("exepath %q (exepathTruncated %v), want %q as passed", ev.ExePath, ev.ExePathTruncated, missing)
		}
		// The child that failed to exec is still a fork of this test.
		if ev.Ppid != int64(os.Getpid()) || ev.Pid == int64(os.Getpid()) || ev.Pid <= 0 || ev.Comm != comm {
			t.Errorf("pid %d ppid %d comm %q, want a child of %d with comm %q", ev.Pid, ev.Ppid, ev.Comm, os.Getpid(), comm)
		}
		if ev.Uid != 0 || ev.ArgsTruncated {
			t.Errorf("uid %d argsTruncated %v, want 0 false", ev.Uid, ev.ArgsTruncated)
		}
		checkNear(t, "failed exec", ev.Timestamp, from, to)
		checkExecFile(t, &ev, execFile{path: missing}) // as passed; no device, no inode
	})
}

// execFile is the file an exec event should name: stat is "%d %i" of it
// (st_dev as user space encodes it, and the inode), "" when unknown.
type execFile struct {
	path, stat string
	upper      bool
}

// checkExecFile checks ev's file, fupper_layer, dev_major, dev_minor and
// inode against want.
func checkExecFile(t *testing.T, ev *execEvent, want execFile) {
	t.Helper()
	var major, minor, ino uint64
	if want.stat != "" {
		var dev uint64
		if _, err := fmt.Sscanf(want.stat, "%d %d", &dev, &ino); err != nil {
			t.Fatalf("stat %q: %v", want.stat, err)
		}
		major, minor = uint64(unix.Major(dev)), uint64(unix.Minor(dev))
	}
	if ev.File != want.path || ev.FileTruncated || ev.FupperLayer != want.upper ||
		uint64(ev.DevMajor) != major || uint64(ev.DevMinor) != minor || ev.Inode != ino {
		t.Errorf("exec of %q: file %q (truncated %v), fupper_layer %v, dev %d:%d, inode %d; want %q whole, %v, %d:%d, %d",
			ev.Args, ev.File, ev.FileTruncated, ev.FupperLayer, ev.DevMajor, ev.DevMinor, ev.Inode,
			want.path, want.upper, major, minor, ino)
	}
}

// hostStat is "%d %i" of path on this host.
func hostStat(t *testing.T, path string) string {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d %d", st.Dev, st.Ino)
}

// TestTraceExecFile runs, in a docker container, a program of its image
// and a #!/bin/sh script written in the container (on the overlayfs upper
// layer), and checks the file each exec asked to run (IG's file,
// fupper_layer, dev_major, dev_minor, inode) against stat in the container,
// with each variant this host offers: the kprobe variant sees the script
// itself; the tracepoint variant, which cannot, gives the script's path as
// passed and no device, inode or layer. Both see the program's file.
func TestTraceExecFile(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	const script = "/igscript/run.sh"
	inContainer(t, "docker", name, "/bin/sh", "-c",
		"mkdir -p /igscript && printf '#!/bin/sh\\nexit 0\\n' >"+script+" && chmod +x "+script)
	out := func(argv ...string) string {
		b, err := exec.Command("runtimes/run.sh", append([]string{"exec", "docker", name}, argv...)...).Output()
		if err != nil {
			t.Fatalf("%q in %s: %v\n%s", argv, name, err, stderrOf(err))
		}
		return strings.TrimSpace(string(b))
	}
	program := out("readlink", "-f", "/bin/true") // busybox: the kernel opens the link's target
	programStat, scriptStat := out("stat", "-L", "-c", "%d %i", program), out("stat", "-c", "%d %i", script)
	if out("stat", "-c", "%d", "/bin/sh") != strings.Fields(scriptStat)[0] {
		t.Fatalf("%s is not on the image's filesystem (stat %s)", script, scriptStat)
	}

	// The kprobe variant where the host offers it (not this machine kind:
	// the kernel-matrix guests run it, tests/workloads); never a skip.
	variants := []string{"tracepoint"}
	if execVariant(t) == "kprobe" {
		variants = append(variants, "kprobe")
	}
	for _, variant := range variants {
		t.Run(variant, func(t *testing.T) {
			progArg, scriptArg := unique("ig-program"), unique("ig-script")
			evs := containerExecs(t, name, []string{"--variant", variant}, func() {
				inContainer(t, "docker", name, "/bin/true", progArg)
				inContainer(t, "docker", name, script, scriptArg)
			})

			ev := findOne(t, evs, "/bin/true "+progArg, func(ev *execEvent) bool { return slices.Contains(ev.Args, progArg) })
			if ev.ExePath != program || ev.UpperLayer {
				t.Errorf("exec of /bin/true: exepath %q upperlayer %v, want %q false", ev.ExePath, ev.UpperLayer, program)
			}
			checkExecFile(t, &ev, execFile{path: program, stat: programStat})

			ev = findOne(t, evs, script+" "+scriptArg, func(ev *execEvent) bool { return slices.Contains(ev.Args, scriptArg) })
			if want := []string{"/bin/sh", script, scriptArg}; !slices.Equal(ev.Args, want) || ev.Ret != 0 {
				t.Errorf("exec of %s: args %q ret %d, want %q 0", script, ev.Args, ev.Ret, want)
			}
			// exepath is the interpreter, of the image; file is the script.
			if ev.ExePath != program || ev.UpperLayer {
				t.Errorf("exec of %s: exepath %q upperlayer %v, want the interpreter %q, false", script, ev.ExePath, ev.UpperLayer, program)
			}
			want := execFile{path: script} // as passed: its file is gone by sched_process_exec
			if variant == "kprobe" {
				want = execFile{path: script, stat: scriptStat, upper: true}
			}
			checkExecFile(t, &ev, want)
		})
	}
}

// execVariant is the variant of trace exec this host gets (ig requirements).
func execVariant(t *testing.T) string {
	t.Helper()
	r := runIG(t, "requirements", "-o", "json")
	checkSuccess(t, r)
	var rows []struct {
		Gadget, Variant string
	}
	if err := json.Unmarshal(r.Stdout, &rows); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Gadget == "trace exec" {
			return row.Variant
		}
	}
	t.Fatal("ig requirements has no trace exec")
	return ""
}

// TestTraceExecIDs: /bin/true, run as otherUID:otherGID, has that uid and
// that gid in its exec event, each in its place.
func TestTraceExecIDs(t *testing.T) {
	igBinary(t)
	ig := startIG(t, "trace", "exec", "-o", "json")
	ig.waitExecJSON(unique("ig-ready"))
	arg := unique("ig-ids")
	pid := runAsOther(t, "/bin/true", arg)
	ig.waitExecJSON(unique("ig-done"))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	ev := findOne(t, eventsOf[execEvent](t, r.Stdout), "/bin/true "+arg, func(ev *execEvent) bool {
		return len(ev.Args) == 2 && ev.Args[1] == arg
	})
	if ev.Pid != int64(pid) || ev.Ret != 0 || ev.Comm != "true" {
		t.Errorf("pid %d ret %d comm %q, want %d 0 \"true\"", ev.Pid, ev.Ret, ev.Comm, pid)
	}
	checkOtherIDs(t, "/bin/true "+arg, ev.commonEvent)
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
	if ev.Cwd != dir || ev.CwdTruncated {
		t.Errorf("cwd %q (cwdTruncated %v), want %q", ev.Cwd, ev.CwdTruncated, dir)
	}
}

// TestTraceExecComm: --comm matches the comm the event shows, which is the
// new program's after a successful exec and the caller's after a failed one,
// and nothing else.
func TestTraceExecComm(t *testing.T) {
	igBinary(t)
	echo := requireTool(t, "echo")
	echoExe, err := filepath.EvalSymlinks(echo)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("new program", func(t *testing.T) {
		ig := startIG(t, "trace", "exec", "-o", "json", "--comm", "echo")
		ig.waitExecOf(echo, unique("ig-ready"))
		args := []string{unique("ig-echo"), "a b"}
		cmd := exec.Command(echo, args...)
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		other := unique("ig-true") // its comm is "true"
		runTrue(t, "", other)
		ig.waitExecOf(echo, unique("ig-done"))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		evs := eventsOf[execEvent](t, r.Stdout)

		ev := findOne(t, evs, "echo "+args[0], func(ev *execEvent) bool { return len(ev.Args) > 1 && ev.Args[1] == args[0] })
		if pid := cmd.ProcessState.Pid(); ev.Pid != int64(pid) || ev.Ppid != int64(os.Getpid()) || ev.Comm != "echo" {
			t.Errorf("pid %d ppid %d comm %q, want %d %d \"echo\"", ev.Pid, ev.Ppid, ev.Comm, pid, os.Getpid())
		}
		if want := append([]string{echo}, args...); !slices.Equal(ev.Args, want) || ev.Ret != 0 || ev.ExePath != echoExe {
			t.Errorf("args %q ret %d exepath %q, want %q 0 %q", ev.Args, ev.Ret, ev.ExePath, want, echoExe)
		}
		if n := countOf(evs, func(ev *execEvent) bool { return slices.Contains(ev.Args, other) }); n != 0 {
			t.Errorf("--comm echo showed the exec of /bin/true %s", other)
		}
		for _, ev := range evs {
			if ev.Comm != "echo" {
				t.Errorf("--comm echo showed comm %q: %+v", ev.Comm, ev)
			}
		}
	})

	// The test's children have its comm until they exec: a failed exec keeps
	// it, a successful one of /bin/true shows "true" and is not this comm's.
	t.Run("failed exec", func(t *testing.T) {
		comm := testComm(t)
		missing := filepath.Join(t.TempDir(), unique("ig-noexec"))
		ig := startIG(t, "trace", "exec", "-o", "json", "--comm", comm)
		ig.waitExecOf(missing, unique("ig-ready"))
		arg := unique("ig-fail")
		if err := exec.Command(missing, arg).Run(); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("exec of %s: %v, want ENOENT", missing, err)
		}
		other := unique("ig-true")
		runTrue(t, "", other)
		ig.waitExecOf(missing, unique("ig-done"))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		evs := eventsOf[execEvent](t, r.Stdout)

		ev := findOne(t, evs, "the failed exec "+arg, func(ev *execEvent) bool { return len(ev.Args) > 1 && ev.Args[1] == arg })
		if ev.Comm != comm || ev.Ppid != int64(os.Getpid()) || ev.Pid == int64(os.Getpid()) || ev.Pid <= 0 {
			t.Errorf("pid %d ppid %d comm %q, want a child of %d with comm %q", ev.Pid, ev.Ppid, ev.Comm, os.Getpid(), comm)
		}
		if !slices.Equal(ev.Args, []string{missing, arg}) || ev.Ret != -2 || ev.ExePath != missing {
			t.Errorf("args %q ret %d exepath %q, want [%s %s] -2 %s", ev.Args, ev.Ret, ev.ExePath, missing, arg, missing)
		}
		if n := countOf(evs, func(ev *execEvent) bool { return slices.Contains(ev.Args, other) }); n != 0 {
			t.Errorf("--comm %s showed the exec of /bin/true %s, whose comm is \"true\"", comm, other)
		}
		for _, ev := range evs {
			if ev.Comm != comm {
				t.Errorf("--comm %s showed comm %q: %+v", comm, ev.Comm, ev)
			}
		}
	})
}

// TestTraceExecLongPaths: a path longer than ig keeps is cut and marked, a
// path that fits is whole. As passed (failed exec): its first 4095 bytes,
// the most the kernel accepts. From the kernel (deeper than 32 directories):
// its end, after "…".
func TestTraceExecLongPaths(t *testing.T) {
	igBinary(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Paths as passed, of a given length, whose directories do not exist.
	passed := func(n int) string {
		p := filepath.Join(dir, unique("ig-long")) + "/"
		for len(p) < n {
			p += "d/"
		}
		return p[:n-1] + "x"
	}
	fits, tooLong, wayTooLong := passed(4095), passed(4096), passed(5000)
	// A copy of /bin/true 40 directories deep, run from there.
	deep := dir
	for i := 0; i < 40; i++ {
		deep = filepath.Join(deep, fmt.Sprintf("d%d", i))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	deepExe := filepath.Join(deep, "true")
	if err := os.WriteFile(deepExe, prog, 0o755); err != nil {
		t.Fatal(err)
	}

	ig := startIG(t, "trace", "exec", "-o", "json", "--cwd")
	ig.waitExecJSON(unique("ig-ready"))
	for _, p := range []string{fits, tooLong, wayTooLong} {
		_ = exec.Command(p, unique("ig-arg")).Run()
	}
	deepArg := unique("ig-deep")
	cmd := exec.Command(deepExe, deepArg)
	cmd.Dir = deep
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v", deepExe, err)
	}
	ig.waitExecJSON(unique("ig-done"))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[execEvent](t, r.Stdout)

	for _, c := range []struct {
		name, path string
		errno      int64
	}{{"4095 bytes", fits, 2}, {"4096 bytes", tooLong, 36}, {"5000 bytes", wayTooLong, 36}} {
		// Its argv[0], the path, is too long to be among the arguments read.
		ev := findOne(t, evs, "the failed exec of a path of "+c.name, func(ev *execEvent) bool {
			return strings.HasPrefix(ev.ExePath, c.path[:200]) // a unique directory name is in there
		})
		cut := len(c.path) > 4095
		want := c.path[:min(len(c.path), 4095)]
		if ev.ExePath != want || ev.ExePathTruncated != cut || ev.Err != c.errno {
			t.Errorf("path of %s: exepath of %d bytes (the path's start: %v), exepathTruncated %v, err %d; want %d bytes, %v, %d",
				c.name, len(ev.ExePath), strings.HasPrefix(c.path, ev.ExePath), ev.ExePathTruncated, ev.Err, len(want), cut, c.errno)
		}
	}

	ev := findOne(t, evs, "the exec of "+deepExe, func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == deepArg })
	for _, p := range []struct {
		name, got, whole string
		cut              bool
	}{{"exepath", ev.ExePath, deepExe, ev.ExePathTruncated}, {"cwd", ev.Cwd, deep, ev.CwdTruncated}, {"file", ev.File, deepExe, ev.FileTruncated}} {
		tail, marked := strings.CutPrefix(p.got, "…/")
		if !p.cut || !marked || !strings.HasSuffix(p.whole, "/"+tail) || len(tail) < len("d39/true") {
			t.Errorf("%s %q (truncated %v), want \"…/\" and the end of %s, truncated", p.name, p.got, p.cut, p.whole)
		}
	}
}

// The limits of the arguments ig keeps (README, argsTruncated): the whole
// arguments that fit in the first 8191 bytes, NULs included; on a failed
// exec (read from the caller's argv) also at most 64 arguments, of at most
// 1023 bytes each. The first argument that does not fit ends the list.
const (
	argsBytes     = 8191
	failedArgsMax = 64
	failedArgLen  = 1023
)

// argsKept is how many of passed (argv, argv[0] included) ig keeps.
func argsKept(passed []string, failed bool) int {
	size := 0
	for i, a := range passed {
		size += len(a) + 1
		if size > argsBytes || failed && (i == failedArgsMax || len(a) > failedArgLen) {
			return i
		}
	}
	return len(passed)
}

// argsFilling appends to args arguments of at most failedArgLen bytes, the
// last of them of last bytes, so that exe and args take exactly total bytes
// with their NULs.
func argsFilling(t *testing.T, exe string, args []string, total, last int) []string {
	t.Helper()
	size := len(exe) + 1
	for _, a := range args {
		size += len(a) + 1
	}
	rest := total - size - (last + 1)
	for rest > failedArgLen+1 {
		args = append(args, strings.Repeat("f", 999)) // 1000 bytes with its NUL
		rest -= 1000
	}
	if rest > 0 {
		args = append(args, strings.Repeat("g", rest-1))
	}
	if rest < 0 {
		t.Fatalf("%d bytes of arguments already, cannot fill to %d", size, total)
	}
	return append(args, strings.Repeat("l", last))
}

// TestTraceExecArgs execs /bin/true, and a missing program, with argument
// lists at and around ig's limits, and checks that ig keeps exactly the
// arguments the limits allow, whole, and says argsTruncated exactly when it
// dropped some: lists of 1 to 80 short arguments (a failed exec keeps 64 of
// them), of 8191 and 8192 bytes, with an argument of 1023 and of 1024 bytes,
// with 3000 arguments, and with one of 10000 bytes.
func TestTraceExecArgs(t *testing.T) {
	igBinary(t)
	missing := filepath.Join(t.TempDir(), unique("ig-noexec"))
	type argCase struct {
		name string
		exe  string
		args []string // args[0] is unique: it finds the event
	}
	var cases []argCase
	add := func(exe, name string, args []string) {
		cases = append(cases, argCase{name: exe + " with " + name, exe: exe, args: args})
	}
	for _, exe := range []string{"/bin/true", missing} {
		for n := 1; n <= 80; n++ {
			args := []string{unique("ig-args")}
			for i := 1; i < n; i++ {
				args = append(args, fmt.Sprintf("a%d", i))
			}
			add(exe, fmt.Sprintf("%d arguments", n+1), args)
		}
		// The last argument, small, starts far into the list.
		add(exe, "8191 bytes of arguments", argsFilling(t, exe, []string{unique("ig-8191")}, argsBytes, 9))
		add(exe, "8192 bytes of arguments", argsFilling(t, exe, []string{unique("ig-8192")}, argsBytes+1, 9))
		// The last argument, of the most a failed exec keeps, ends at byte 8192.
		add(exe, "7168 bytes and 1024 more", append(argsFilling(t, exe, []string{unique("ig-7168")}, argsBytes+1-1024, 100), strings.Repeat("c", 1023)))
		long := []string{unique("ig-long")}
		for i := 1; i < 3000; i++ {
			long = append(long, fmt.Sprintf("a%09d", i)) // 10 characters each
		}
		add(exe, "3001 arguments", long)
		add(exe, "an argument of 10000 bytes", []string{unique("ig-big"), strings.Repeat("b", 10000), "x"})
		add(exe, "an argument of 1023 bytes", []string{unique("ig-1023"), strings.Repeat("c", failedArgLen), "x"})
		add(exe, "an argument of 1024 bytes", []string{unique("ig-1024"), strings.Repeat("c", failedArgLen+1), "x"})
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
		failed := c.exe == missing
		ev := findOne(t, evs, c.name, func(ev *execEvent) bool {
			return len(ev.Args) > 1 && ev.Args[1] == c.args[0]
		})
		want := argsKept(passed, failed)
		if len(ev.Args) != want || firstDiff(ev.Args, passed) >= 0 || ev.ArgsTruncated != (want < len(passed)) {
			t.Errorf("%s: %d arguments kept (first differing: %d), argsTruncated %v; want the first %d of %d, argsTruncated %v",
				c.name, len(ev.Args), firstDiff(ev.Args, passed), ev.ArgsTruncated, want, len(passed), want < len(passed))
		}
		if failed && (ev.ExePath != missing || ev.ExePathTruncated) {
			t.Errorf("%s: exepath %.80q (exepathTruncated %v), want %q", c.name, ev.ExePath, ev.ExePathTruncated, missing)
		}
	}
}

// firstDiff returns the index of the first of kept that differs from
// passed, or -1; kept longer than passed differs at len(passed).
func firstDiff(kept, passed []string) int {
	for i, a := range kept {
		if i >= len(passed) || a != passed[i] {
			return i
		}
	}
	return -1
}

// threadOf says whether tid is a thread of process pid.
func threadOf(pid, tid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d", pid, tid))
	return err == nil
}

// TestTraceExecUpperLayer runs, in a docker container, a program of its
// image and a copy of it written in the container: only the copy is on the
// overlayfs upper layer (IG's upperlayer), and its parent, the shell of the
// image, is not (pupperlayer).
func TestTraceExecUpperLayer(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	lower, upper := unique("ig-lower"), unique("ig-upper")
	evs := containerExecs(t, name, nil, func() {
		inContainer(t, "docker", name, "/bin/sh", "-c", "/bin/true "+lower+"; mkdir -p /igcopy && cp /bin/true /igcopy/true && /igcopy/true "+upper)
	})
	for arg, want := range map[string]bool{lower: false, upper: true} {
		ev := findOne(t, evs, "the exec with "+arg, func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == arg })
		if ev.UpperLayer != want || ev.PupperLayer {
			t.Errorf("exec of %s (%s): upperlayer %v, pupperlayer %v; want %v, false", ev.ExePath, arg, ev.UpperLayer, ev.PupperLayer, want)
		}
	}
}

// containerExecs traces the execs of docker container name (igArgs added to
// trace exec's) while work runs in it, and returns them: from an exec of
// /bin/true that shows ig attached to one that shows work's are all in.
func containerExecs(t *testing.T, name string, igArgs []string, work func()) []execEvent {
	t.Helper()
	ig := startIG(t, append(append([]string{"trace", "exec"}, igArgs...), "-c", name, "-o", "json")...)
	marker := func(prefix string) {
		arg := unique(prefix)
		ig.waitUntil("an exec in "+name, func() { inContainer(t, "docker", name, "/bin/true", arg) },
			streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == arg }))
	}
	marker("ig-ready")
	work()
	marker("ig-done")
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	return eventsOf[execEvent](t, r.Stdout)
}
