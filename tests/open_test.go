package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openCase is one open the test makes and what ig must report for it.
type openCase struct {
	name      string
	dir       string // if set, path is opened relative to this directory's fd
	path      string // as passed to the syscall
	wantFlags []string
	flagsRaw  int
	modeRaw   uint32
	mode      string
	fd        int // the fd the syscall returned; 0 on failure
	errno     int // 0 on success
	errName   string
}

// planOpens creates the files the trace open tests open (before ig starts:
// creating them is an open too) and says what ig must report for each open.
func planOpens(t *testing.T) []openCase {
	t.Helper()
	dir := t.TempDir()
	existing := filepath.Join(dir, unique("ig-exists"))
	relName := unique("ig-rel")
	for _, p := range []string{existing, filepath.Join(dir, relName)} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []openCase{
		{name: "existing", path: existing, flagsRaw: unix.O_RDONLY | unix.O_CLOEXEC,
			wantFlags: []string{"O_RDONLY", "O_CLOEXEC"}, mode: "----------"},
		{name: "missing", path: filepath.Join(dir, unique("ig-missing")), flagsRaw: unix.O_RDONLY | unix.O_CLOEXEC,
			wantFlags: []string{"O_RDONLY", "O_CLOEXEC"}, mode: "----------", errno: 2, errName: "ENOENT"},
		{name: "create", path: filepath.Join(dir, unique("ig-created")), flagsRaw: unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC,
			wantFlags: []string{"O_WRONLY", "O_CREAT", "O_TRUNC"}, modeRaw: 0o640, mode: "-rw-r-----"},
		// special bits as ls shows them: s and t over x, S and T without it
		{name: "create setuid", path: filepath.Join(dir, unique("ig-setuid")), flagsRaw: unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC,
			wantFlags: []string{"O_WRONLY", "O_CREAT", "O_TRUNC"}, modeRaw: 0o4755, mode: "-rwsr-xr-x"},
		{name: "create setgid sticky", path: filepath.Join(dir, unique("ig-sticky")), flagsRaw: unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC,
			wantFlags: []string{"O_WRONLY", "O_CREAT", "O_TRUNC"}, modeRaw: 0o3640, mode: "-rw-r-S--T"},
		// relative to a directory fd: the path is reported as passed, "./" included
		{name: "relative", dir: dir, path: "./" + relName, flagsRaw: unix.O_RDONLY | unix.O_CLOEXEC,
			wantFlags: []string{"O_RDONLY", "O_CLOEXEC"}, mode: "----------"},
		{name: "openat2", dir: dir, path: unique("ig-openat2"), flagsRaw: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_CLOEXEC,
			wantFlags: []string{"O_WRONLY", "O_CREAT", "O_EXCL", "O_CLOEXEC"}, modeRaw: 0o600, mode: "-rw-------"},
	}
}

// openAll makes the planned opens on one locked OS thread, recording the fds,
// and returns the thread's id.
func openAll(t *testing.T, cases []openCase) int {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	for i := range cases {
		c := &cases[i]
		var fd int
		var err error
		if c.dir != "" {
			dirfd, derr := unix.Open(c.dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if derr != nil {
				t.Fatal(derr)
			}
			if c.name == "openat2" {
				fd, err = unix.Openat2(dirfd, c.path, &unix.OpenHow{Flags: uint64(c.flagsRaw), Mode: uint64(c.modeRaw)})
			} else {
				fd, err = unix.Openat(dirfd, c.path, c.flagsRaw, c.modeRaw)
			}
			unix.Close(dirfd)
		} else {
			fd, err = unix.Open(c.path, c.flagsRaw, c.modeRaw)
		}
		if c.errno != 0 {
			if err != unix.Errno(c.errno) {
				t.Fatalf("%s open of %s: got fd %d, err %v; want errno %d", c.name, c.path, fd, err, c.errno)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s open of %s: %v", c.name, c.path, err)
		}
		c.fd = fd
		unix.Close(fd)
	}
	return tid
}

// checkOpenEvent checks everything ig reports for one open of this process.
func checkOpenEvent(t *testing.T, c openCase, ev openEvent, tid int, comm string, mntns uint64, from, to time.Time) {
	t.Helper()
	if ev.Pid != int64(os.Getpid()) || ev.Tid != int64(tid) || ev.Ppid != int64(os.Getppid()) {
		t.Errorf("%s: pid/tid/ppid %d/%d/%d, want %d/%d/%d", c.name, ev.Pid, ev.Tid, ev.Ppid, os.Getpid(), tid, os.Getppid())
	}
	if ev.Comm != comm {
		t.Errorf("%s: comm %q, want %q", c.name, ev.Comm, comm)
	}
	if pcomm := procComm(t, strconv.Itoa(os.Getppid())); ev.Pcomm != pcomm {
		t.Errorf("%s: pcomm %q, want the parent's, %q", c.name, ev.Pcomm, pcomm)
	}
	if ev.Uid != 0 || ev.Gid != 0 {
		t.Errorf("%s: uid/gid %d/%d, want 0/0", c.name, ev.Uid, ev.Gid)
	}
	if ev.MountNsID != mntns {
		t.Errorf("%s: mountnsid %d, want %d", c.name, ev.MountNsID, mntns)
	}
	checkNear(t, c.name, ev.Timestamp, from, to)
	if ev.Path != c.path || ev.PathTruncated {
		t.Errorf("%s: path %q (pathTruncated %v), want %q as passed", c.name, ev.Path, ev.PathTruncated, c.path)
	}
	if c.errno == 0 {
		if ev.Fd <= 0 || ev.Fd != int64(c.fd) || ev.Ret != ev.Fd || ev.Err != 0 || ev.Error != "" {
			t.Errorf("%s: fd %d ret %d err %d error %q, want fd %d (>0) ret %d err 0 error \"\"", c.name, ev.Fd, ev.Ret, ev.Err, ev.Error, c.fd, c.fd)
		}
	} else if ev.Fd != 0 || ev.Ret != int64(-c.errno) || ev.Err != int64(c.errno) || ev.Error != c.errName {
		t.Errorf("%s: fd %d ret %d err %d error %q, want fd 0 ret %d err %d error %q", c.name, ev.Fd, ev.Ret, ev.Err, ev.Error, -c.errno, c.errno, c.errName)
	}
	if !sameSet(ev.Flags, c.wantFlags) || ev.FlagsRaw != int64(c.flagsRaw) {
		t.Errorf("%s: flags %q (raw %#o), want %q (raw %#o)", c.name, ev.Flags, ev.FlagsRaw, c.wantFlags, c.flagsRaw)
	}
	if ev.ModeRaw != int64(c.modeRaw) || ev.Mode != c.mode {
		t.Errorf("%s: mode %q (raw %#o), want %q (raw %#o)", c.name, ev.Mode, ev.ModeRaw, c.mode, c.modeRaw)
	}
}

// TestTraceOpen opens existing, missing, created, relative and openat2 paths
// and checks every field of their events, without a filter and with --pid
// and --comm (which must then report nothing else), with each variant.
func TestTraceOpen(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	pid := os.Getpid()
	for _, tc := range []struct {
		name   string
		filter []string
		only   func(*openEvent) bool // what the filter lets through
	}{
		{name: "no filter"},
		{name: "--pid", filter: []string{"--pid", strconv.Itoa(pid)},
			only: func(ev *openEvent) bool { return ev.Pid == int64(pid) }},
		{name: "--comm", filter: []string{"--comm", comm},
			only: func(ev *openEvent) bool { return ev.Comm == comm }},
	} {
		for _, variant := range []string{"tp_btf", "tracepoint"} { // each reports the same
			t.Run(variant+"/"+tc.name, func(t *testing.T) {
				cases := planOpens(t)
				ig := startIG(t, append([]string{"trace", "open", "-o", "json", "--variant", variant}, tc.filter...)...)
				ig.waitOpenJSON(newMarkerFile(t))

				from := time.Now()
				tid := openAll(t, cases)
				to := time.Now()
				ig.waitOpenJSON(newMarkerFile(t)) // ig has read all the events above
				r := ig.stop(sigINT)
				checkSuccess(t, r)

				evs := eventsOf[openEvent](t, r.Stdout)
				mntns := mountNsID(t)
				for _, c := range cases {
					ev := findOne(t, evs, c.name+" open of "+c.path, func(ev *openEvent) bool {
						return ev.Path == c.path && ev.Pid == int64(pid)
					})
					checkOpenEvent(t, c, ev, tid, comm, mntns, from, to)
				}
				if tc.only != nil {
					for _, ev := range evs {
						if !tc.only(&ev) {
							t.Errorf("%s let through an event of another process: %+v", tc.name, ev)
						}
					}
				}
			})
		}
	}
}

// TestTraceOpenIDs: cat, run as otherUID:otherGID, opens a file; its event
// has that uid and that gid, each in its place.
func TestTraceOpenIDs(t *testing.T) {
	igBinary(t)
	cat := requireTool(t, "cat")
	// In /tmp itself: the other uid cannot enter the test's 0700 TempDir.
	path := filepath.Join(os.TempDir(), unique("ig-ids"))
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	ig := startIG(t, "trace", "open", "-o", "json")
	ig.waitOpenJSON(newMarkerFile(t))
	pid := runAsOther(t, cat, path)
	ig.waitOpenJSON(newMarkerFile(t))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	ev := findOne(t, eventsOf[openEvent](t, r.Stdout), "cat's open of "+path, func(ev *openEvent) bool { return ev.Path == path })
	if ev.Pid != int64(pid) || ev.Comm != "cat" || ev.Fd <= 0 || ev.Err != 0 {
		t.Errorf("open of %s: pid %d comm %q fd %d err %d, want %d \"cat\" >0 0", path, ev.Pid, ev.Comm, ev.Fd, ev.Err, pid)
	}
	checkOtherIDs(t, "cat's open of "+path, ev.commonEvent)
}

// TestTraceOpenLongPath: a path of up to 4095 bytes, the most the kernel
// accepts, is reported whole; a longer one by its first 4095 bytes, with
// pathTruncated, and "…" after it in columns.
func TestTraceOpenLongPath(t *testing.T) {
	igBinary(t)
	dir := t.TempDir()
	// Paths of a given length whose directories do not exist.
	pathOf := func(n int) string {
		p := filepath.Join(dir, unique("ig-long")) + "/"
		for len(p) < n {
			p += "d/"
		}
		return p[:n-1] + "x"
	}
	cases := []struct {
		path  string
		errno unix.Errno
	}{{pathOf(4095), unix.ENOENT}, {pathOf(4096), unix.ENAMETOOLONG}, {pathOf(5000), unix.ENAMETOOLONG}}
	pid := strconv.Itoa(os.Getpid())
	for _, format := range []string{"json", "columns=truncated,errno,path"} {
		t.Run(format, func(t *testing.T) {
			ig := startIG(t, "trace", "open", "--pid", pid, "-o", format)
			wait := ig.waitOpenJSON
			if format != "json" {
				wait = ig.waitOpenRow
			}
			wait(newMarkerFile(t))
			for _, c := range cases {
				if _, err := unix.Open(c.path, unix.O_RDONLY, 0); err != c.errno {
					t.Fatalf("open of a path of %d bytes: %v, want %v", len(c.path), err, c.errno)
				}
			}
			wait(newMarkerFile(t)) // ig has read the opens above
			r := ig.stop(sigINT)
			checkSuccess(t, r)
			for _, c := range cases {
				cut := len(c.path) > 4095
				kept := c.path[:min(len(c.path), 4095)]
				if format == "json" {
					evs := eventsOf[openEvent](t, r.Stdout)
					ev := findOne(t, evs, fmt.Sprintf("the open of a path of %d bytes", len(c.path)), func(ev *openEvent) bool {
						return strings.HasPrefix(ev.Path, c.path[:200]) // a unique directory name is in there
					})
					if ev.Path != kept || ev.PathTruncated != cut || ev.Err != int64(c.errno) {
						t.Errorf("path of %d bytes: path of %d bytes (the path's start: %v), pathTruncated %v, err %d; want %d bytes, %v, %d",
							len(c.path), len(ev.Path), strings.HasPrefix(c.path, ev.Path), ev.PathTruncated, ev.Err, len(kept), cut, c.errno)
					}
					continue
				}
				want := []string{strconv.FormatBool(cut), strconv.Itoa(int(c.errno)), kept}
				if cut {
					want[2] += "…"
				}
				if f := rowWithPath(r.Stdout, want[2]); !slices.Equal(f, want) {
					t.Errorf("path of %d bytes: no row %.60q…, got %.60q", len(c.path), want, f)
				}
			}
		})
	}
}

// TestTraceOpenFailed: --failed shows the failed open, not the successful one.
func TestTraceOpenFailed(t *testing.T) {
	igBinary(t)
	existing := newMarkerFile(t)
	missing := missingPath(t)
	ig := startIG(t, "trace", "open", "-o", "json", "--failed", "--pid", strconv.Itoa(os.Getpid()))
	ig.waitOpenJSON(missingPath(t)) // only a failed open can be a marker here

	tryOpen(existing)
	tryOpen(missing)
	ig.waitOpenJSON(missingPath(t))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	evs := eventsOf[openEvent](t, r.Stdout)
	ev := findOne(t, evs, "the failed open of "+missing, func(ev *openEvent) bool { return ev.Path == missing })
	if ev.Ret != -2 || ev.Err != 2 || ev.Error != "ENOENT" || ev.Fd != 0 {
		t.Errorf("failed open: ret %d err %d error %q fd %d, want -2 2 ENOENT 0", ev.Ret, ev.Err, ev.Error, ev.Fd)
	}
	if n := countOf(evs, func(ev *openEvent) bool { return ev.Path == existing }); n != 0 {
		t.Errorf("--failed showed %d events for the successful open of %s", n, existing)
	}
	for _, ev := range evs {
		if ev.Ret >= 0 || ev.Err == 0 || ev.Error == "" {
			t.Errorf("--failed showed a successful open: %+v", ev)
		}
	}
}

// TestTraceOpenColumns checks the default columns, a header and a row per open.
func TestTraceOpenColumns(t *testing.T) {
	igBinary(t)
	pid := strconv.Itoa(os.Getpid())
	comm := testComm(t)
	existing := newMarkerFile(t)
	missing := missingPath(t)
	ig := startIG(t, "trace", "open", "--pid", pid)
	ig.waitOpenRow(newMarkerFile(t))

	tryOpen(existing)
	tryOpen(missing)
	ig.waitOpenRow(newMarkerFile(t))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	lines := completeLines(r.Stdout)
	header := strings.Fields(lines[0])
	var at []int
	for _, col := range []string{"PID", "COMM", "FD", "ERR", "FLAGS", "PATH"} {
		i := slices.Index(header, col)
		if i < 0 {
			t.Fatalf("header %q lacks %s", lines[0], col)
		}
		at = append(at, i)
	}
	if !slices.IsSorted(at) {
		t.Errorf("header %q: want PID COMM FD ERR FLAGS PATH in that order", lines[0])
	}
	for _, c := range []struct {
		path string
		want []string // fields the row must have
	}{
		{existing, []string{pid, comm, "O_RDONLY|O_CLOEXEC"}},
		{missing, []string{pid, comm, "ENOENT", "O_RDONLY|O_CLOEXEC"}},
	} {
		row := rowWithPath(r.Stdout, c.path)
		if row == nil {
			t.Errorf("no row for %s in:\n%s", c.path, r.Stdout)
			continue
		}
		for _, w := range c.want {
			if !slices.Contains(row, w) {
				t.Errorf("row %q lacks %q", row, w)
			}
		}
	}
}

// TestTraceOpenColumnsSelected: -o columns=pid,path prints exactly those two.
func TestTraceOpenColumnsSelected(t *testing.T) {
	igBinary(t)
	pid := strconv.Itoa(os.Getpid())
	target := newMarkerFile(t)
	ig := startIG(t, "trace", "open", "-o", "columns=pid,path", "--pid", pid)
	ig.waitOpenRow(newMarkerFile(t))
	tryOpen(target)
	ig.waitOpenRow(newMarkerFile(t))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	lines := completeLines(r.Stdout)
	if h := strings.Fields(lines[0]); !slices.Equal(h, []string{"PID", "PATH"}) {
		t.Errorf("header %q, want PID PATH", lines[0])
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) != 2 || f[0] != pid {
			t.Errorf("row %q: want two columns, pid %s and a path", l, pid)
		}
	}
	if row := rowWithPath(r.Stdout, target); !slices.Equal(row, []string{pid, target}) {
		t.Errorf("row for %s: %q, want [%s %s]", target, row, pid, target)
	}
}

// TestTraceOpenColumnsBogus: an unknown column fails and names the valid ones.
func TestTraceOpenColumnsBogus(t *testing.T) {
	r := runIG(t, "trace", "open", "-o", "columns=bogus", "-t", "1")
	msg := checkFailure(t, r)
	if !strings.Contains(msg, "bogus") {
		t.Errorf("message %q does not name the bad column", msg)
	}
	for _, col := range []string{"pid", "tid", "comm", "fd", "flags", "mode", "path"} {
		if !strings.Contains(msg, col) {
			t.Errorf("message %q does not list the valid column %s", msg, col)
		}
	}
}

// TestTraceOpenJSONPretty: -o jsonpretty is a stream of indented JSON objects.
func TestTraceOpenJSONPretty(t *testing.T) {
	igBinary(t)
	target := newMarkerFile(t)
	ig := startIG(t, "trace", "open", "-o", "jsonpretty", "--pid", strconv.Itoa(os.Getpid()))
	ig.waitOpenJSON(newMarkerFile(t))
	tryOpen(target)
	ig.waitOpenJSON(newMarkerFile(t))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	objs, err := jsonObjects(r.Stdout)
	if err != nil {
		t.Fatalf("-o jsonpretty output is not a stream of JSON objects: %v\n%s", err, tail(r.Stdout))
	}
	var raw json.RawMessage
	for _, o := range objs {
		if ev, err := decodeEvent[openEvent](o); err != nil {
			t.Fatal(err)
		} else if ev.Path == target {
			raw = o
		}
	}
	if raw == nil {
		t.Fatalf("no event for %s in:\n%s", target, tail(r.Stdout))
	}
	if !bytes.Contains(raw, []byte("\n  \"")) {
		t.Errorf("-o jsonpretty event is not indented: %s", raw)
	}
}
