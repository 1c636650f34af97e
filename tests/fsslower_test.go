package tests

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tests/workloads"
)

// fsEvent is a trace fsslower event, as JSON.
type fsEvent struct {
	commonEvent
	Op      string `json:"op"`
	Bytes   int64  `json:"bytes"`
	Offset  int64  `json:"offset"`
	Latency int64  `json:"latency"`
	File    string `json:"file"`
}

// fsProgs are trace fsslower's programs on this host (the tracepoint variant).
var fsProgs = func() []string {
	var progs []string
	for _, sc := range []string{"read", "readv", "pread64", "write", "writev", "pwrite64", "fsync", "fdatasync", "openat", "openat2"} {
		progs = append(progs, "enter_"+sc, "exit_"+sc)
	}
	return append(progs, "enter_open_", "exit_open")
}()

// rootFsDir is a directory on the filesystem of /, and that filesystem's type.
func rootFsDir(t *testing.T) (string, string) {
	t.Helper()
	fsType, err := workloads.FsTypeOf("/")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "ig-fsslower-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if got, _ := workloads.FsTypeOf(dir); got != fsType {
		t.Fatalf("%s is on %s, / on %s", dir, got, fsType)
	}
	return dir, fsType
}

// waitFsAttached writes marker until ig (trace fsslower -o json) shows it.
func (p *proc) waitFsAttached(marker string) {
	p.t.Helper()
	p.waitUntil("a write of "+marker, func() { _ = os.WriteFile(marker, []byte("x"), 0o644) },
		streamMatcher(func(ev *fsEvent) bool { return ev.Op == "W" && ev.File == filepath.Base(marker) }))
}

// TestTraceFsslower: with -m 0 -f TYPE-of-/, an open, a write, an fsync and
// reads of a file of the test's own, each with its fields; ext4 here.
func TestTraceFsslower(t *testing.T) {
	igBinary(t)
	dir, fsType := rootFsDir(t)
	t.Logf("/ is %s", fsType)
	marker := filepath.Join(dir, unique("marker"))
	path := filepath.Join(dir, unique("ig-fs"))
	// A file on another filesystem type, which -f leaves out.
	other := filepath.Join("/dev/shm", unique("ig-fs-other"))
	if got, _ := workloads.FsTypeOf(other); got == fsType {
		t.Fatalf("/dev/shm is on %s too", got)
	}
	t.Cleanup(func() { os.Remove(other) })
	ig := startIG(t, "trace", "fsslower", "-o", "json", "-m", "0", "-f", fsType, "--pid", strconv.Itoa(os.Getpid()))
	ig.waitFsAttached(marker)
	if err := os.WriteFile(other, []byte("other"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(other); err != nil {
		t.Fatal(err)
	}

	data := []byte(strings.Repeat("0123456789", 300)) // 3000 bytes
	runtime.LockOSThread()
	tid := unix.Gettid()
	from := time.Now()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Pwrite(fd, data, 0); err != nil || n != len(data) {
		t.Fatalf("pwrite: %d %v", n, err)
	}
	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if n, err := unix.Pread(fd, buf, 1234); err != nil || n != 1000 {
		t.Fatalf("pread: %d %v", n, err)
	}
	if _, err := unix.Seek(fd, 2500, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Read(fd, buf); err != nil || n != 500 { // from the file position
		t.Fatalf("read: %d %v", n, err)
	}
	unix.Close(fd)
	to := time.Now()
	runtime.UnlockOSThread()
	ig.waitFsAttached(marker) // ig has read the events above
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	evs := eventsOf[fsEvent](t, r.Stdout)
	if n := countOf(evs, func(ev *fsEvent) bool { return ev.File == filepath.Base(other) }); n > 0 {
		t.Errorf("-f %s showed %d operations on %s, which is not %s", fsType, n, other, fsType)
	}
	name := filepath.Base(path)
	for _, c := range []struct {
		what          string
		op            string
		bytes, offset int64
	}{{"open", "O", 0, 0}, {"pwrite", "W", 3000, 0}, {"fsync", "F", 0, 0},
		{"pread", "R", 1000, 1234}, {"read", "R", 500, 2500}} {
		ev := findOne(t, evs, c.what+" of "+path, func(ev *fsEvent) bool {
			return ev.File == name && ev.Op == c.op && ev.Offset == c.offset
		})
		if ev.Pid != int64(os.Getpid()) || ev.Tid != int64(tid) || ev.Comm != testComm(t) {
			t.Errorf("%s: pid/tid %d/%d comm %q, want %d/%d %q", c.what, ev.Pid, ev.Tid, ev.Comm, os.Getpid(), tid, testComm(t))
		}
		if ev.Bytes != c.bytes {
			t.Errorf("%s: bytes %d, want %d", c.what, ev.Bytes, c.bytes)
		}
		// In microseconds, within the time the test took for all of them.
		if ev.Latency < 0 || ev.Latency > to.Sub(from).Microseconds() {
			t.Errorf("%s: latency %d µs, want 0 to %d", c.what, ev.Latency, to.Sub(from).Microseconds())
		}
		checkNear(t, c.what, ev.Timestamp, from, to)
	}
}

// TestTraceFsslowerMin: -m keeps what is slower than it and drops the rest:
// a read of a FIFO (an inode on / too) that waits 600 ms shows, with its
// latency; quick reads of a file do not.
func TestTraceFsslowerMin(t *testing.T) {
	igBinary(t)
	dir, fsType := rootFsDir(t)
	fifo := filepath.Join(dir, unique("fifo"))
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	quick := filepath.Join(dir, unique("quick"))
	if err := os.WriteFile(quick, []byte("quick"), 0o600); err != nil {
		t.Fatal(err)
	}
	ig := startIG(t, "trace", "fsslower", "-o", "json", "-m", "300", "-f", fsType, "--pid", strconv.Itoa(os.Getpid()))
	// Attached when a slow read shows: a writer comes 600 ms after the read
	// starts. Opened O_RDWR, the FIFO opens at once and the read waits
	// (os.ReadFile would wait in the poller, not in read).
	slowRead := func() {
		fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		go func() {
			time.Sleep(600 * time.Millisecond)
			_ = os.WriteFile(fifo, []byte("slow"), 0)
		}()
		buf := make([]byte, 16)
		if n, err := unix.Read(fd, buf); err != nil || string(buf[:n]) != "slow" {
			t.Errorf("read fifo: %q %v", buf[:n], err)
		}
	}
	ig.waitUntil("a slow read of the FIFO", slowRead,
		streamMatcher(func(ev *fsEvent) bool { return ev.File == filepath.Base(fifo) && ev.Op == "R" }))
	for i := 0; i < 20; i++ {
		if _, err := os.ReadFile(quick); err != nil {
			t.Fatal(err)
		}
	}
	slowRead()
	ig.waitUntil("a second slow read of the FIFO", nil, func(out []byte) bool {
		return strings.Count(string(out), `"op":"R"`) >= 2
	})
	// The FIFO's opens and writes are quick: only its two reads may show.
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, ev := range eventsOf[fsEvent](t, r.Stdout) {
		if ev.File != filepath.Base(fifo) || ev.Op != "R" {
			t.Errorf("-m 300 let through %s of %s (%d µs)", ev.Op, ev.File, ev.Latency)
		} else if ev.Latency < 300_000 {
			t.Errorf("-m 300: %s of the FIFO took %d µs", ev.Op, ev.Latency)
		}
	}
}

// TestTraceFsslowerOverlay: -f overlay -c NAME shows a read in a docker
// container, whose files are on overlay, with the container's name.
func TestTraceFsslowerOverlay(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	file := unique("ig-ovl")
	inContainer(t, "docker", name, "sh", "-c", "echo overlay > /"+file)
	ig := startIG(t, "trace", "fsslower", "-o", "json", "-m", "0", "-f", "overlay", "-c", name)
	// dd, not cat: busybox cat copies with sendfile, not read.
	ig.waitUntil("a read in the container", func() { inContainer(t, "docker", name, "dd", "if=/"+file, "of=/dev/null") },
		streamMatcher(func(ev *fsEvent) bool { return ev.File == file && ev.Op == "R" && ev.Bytes > 0 }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[fsEvent](t, r.Stdout)
	var reads int
	for _, ev := range evs {
		if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" {
			t.Errorf("-c %s let through an event of %q: %+v", name, ev.Runtime.ContainerName, ev)
		}
		if ev.File == file && ev.Op == "R" && ev.Bytes > 0 {
			reads++
			if ev.Comm != "dd" || ev.Bytes != int64(len("overlay\n")) || ev.Offset != 0 {
				t.Errorf("read: comm %q bytes %d offset %d, want dd %d 0", ev.Comm, ev.Bytes, ev.Offset, len("overlay\n"))
			}
		}
	}
	if reads == 0 {
		t.Errorf("no read of /%s in %d events", file, len(evs))
	}
}

// TestTraceFsslowerRefusals: the fentry variant (refused by this host),
// and bad flags, each in one line.
func TestTraceFsslowerRefusals(t *testing.T) {
	igBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--variant", "fentry"}, "variant fentry cannot run here: fentry vfs_read refused"},
		{[]string{"-m", "-1"}, "--min -1"},
		{[]string{"-f", ""}, `--filesystem ""`},
	} {
		msg := checkFailure(t, runIG(t, append([]string{"trace", "fsslower", "-t", "1"}, c.args...)...))
		if !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q, want it to contain %q", c.args, msg, c.want)
		}
	}
}

// TestTraceFsslowerLifecycle: attached while it runs, nothing left after.
func TestTraceFsslowerLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	dir, fsType := rootFsDir(t)
	marker := filepath.Join(dir, unique("marker"))
	checkLifecycle(t, lifecycleGadget{"trace fsslower SIGINT", []string{"trace", "fsslower", "-o", "json", "-m", "0", "-f", fsType},
		fsProgs, func(p *proc) { p.waitFsAttached(marker) }, sigINT})
}
