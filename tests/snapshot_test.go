package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// snapshotArray parses the output of `ig snapshot ... -o json|jsonpretty`:
// exactly one JSON array of objects, nothing after it.
func snapshotArray(t *testing.T, r result) []json.RawMessage {
	t.Helper()
	checkSuccess(t, r)
	var arr []json.RawMessage
	if err := json.Unmarshal(r.Stdout, &arr); err != nil {
		t.Fatalf("stdout is not one JSON array: %v\n%s", err, r)
	}
	for i, o := range arr {
		if len(o) == 0 || o[0] != '{' {
			t.Fatalf("array element %d is not an object: %.200s", i, o)
		}
	}
	return arr
}

// snapshotProcs runs `ig snapshot process -o json args...` and decodes every entry.
func snapshotProcs(t *testing.T, args ...string) []commonEvent {
	t.Helper()
	r := runIG(t, append([]string{"snapshot", "process", "-o", "json"}, args...)...)
	return decodeAll[commonEvent](t, snapshotArray(t, r))
}

// startSleep starts `sleep 30` as a child of the test, killed at cleanup;
// opts may change the command first (asOtherIDs).
func startSleep(t *testing.T, opts ...func(*exec.Cmd)) int {
	t.Helper()
	cmd := exec.Command(requireTool(t, "sleep"), "30")
	for _, o := range opts {
		o(cmd)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// The comm is "sleep" once the child has exec'd; wait for it so that ig
	// does not catch the forked test binary instead.
	for i := 0; ; i++ {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm")
		if err == nil && strings.TrimSpace(string(b)) == "sleep" {
			break
		}
		if i > 200 {
			t.Fatalf("child %d never became sleep (comm %q, %v)", cmd.Process.Pid, b, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd.Process.Pid
}

// threadComms lists the comms of pid's threads.
func threadComms(pid int) []string {
	dirs, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/comm", pid))
	var comms []string
	for _, d := range dirs {
		if b, err := os.ReadFile(d); err == nil {
			comms = append(comms, strings.TrimSuffix(string(b), "\n"))
		}
	}
	return comms
}

func procComm(t *testing.T, pid string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(b), "\n")
}

func TestSnapshotProcess(t *testing.T) {
	igBinary(t)
	self := os.Getpid()
	child := startSleep(t)
	other := startSleep(t, asOtherIDs)
	comm := procComm(t, "self")

	t.Run("all", func(t *testing.T) {
		from := time.Now()
		procs := snapshotProcs(t)
		to := time.Now()
		// Every row is stamped with the moment of the snapshot, those the
		// iterator missed and ig read from /proc (PID 1 here) too.
		for _, p := range procs {
			checkNear(t, fmt.Sprintf("pid %d (%s)", p.Pid, p.Comm), p.Timestamp, from, to)
		}
		me := findOne(t, procs, "the test process", func(p *commonEvent) bool { return p.Pid == int64(self) })
		pcomm := procComm(t, strconv.Itoa(os.Getppid()))
		if me.Tid != me.Pid || me.Ppid != int64(os.Getppid()) || me.Uid != 0 || me.Comm != comm || me.Pcomm != pcomm {
			t.Errorf("test process: got %+v, want tid=pid=%d ppid=%d uid=0 comm=%q pcomm=%q", me, self, os.Getppid(), comm, pcomm)
		}
		if me.MountNsID != mountNsID(t) {
			t.Errorf("test process: mountnsid %d, want %d", me.MountNsID, mountNsID(t))
		}
		c := findOne(t, procs, "the sleep child", func(p *commonEvent) bool { return p.Pid == int64(child) })
		if c.Ppid != int64(self) || c.Comm != "sleep" || c.Tid != c.Pid || c.Pcomm != comm {
			t.Errorf("sleep child: got %+v, want pid=tid=%d ppid=%d comm=sleep pcomm=%q", c, child, self, comm)
		}
		o := findOne(t, procs, "the sleep child of other ids", func(p *commonEvent) bool { return p.Pid == int64(other) })
		checkOtherIDs(t, "sleep child of other ids", o)
		pid1 := findOne(t, procs, "PID 1", func(p *commonEvent) bool { return p.Pid == 1 })
		if want := procComm(t, "1"); pid1.Comm != want || pid1.Ppid != 0 || pid1.Pcomm != "" {
			t.Errorf("PID 1: got %+v, want comm %q ppid 0 and no pcomm", pid1, want)
		}
		seen := map[int64]int{}
		for _, p := range procs {
			if seen[p.Pid]++; seen[p.Pid] == 2 {
				t.Errorf("pid %d listed more than once without --threads", p.Pid)
			}
			if p.Tid != p.Pid {
				t.Errorf("without --threads, tid must equal pid: %+v", p)
			}
		}
	})

	t.Run("pid", func(t *testing.T) {
		procs := snapshotProcs(t, "--pid", strconv.Itoa(child))
		if len(procs) != 1 || procs[0].Pid != int64(child) || procs[0].Comm != "sleep" || procs[0].Ppid != int64(self) {
			t.Fatalf("--pid %d: want exactly the sleep child, got %+v", child, procs)
		}
	})

	t.Run("comm", func(t *testing.T) {
		procs := snapshotProcs(t, "--comm", "sleep")
		for _, p := range procs {
			if p.Comm != "sleep" {
				t.Errorf("--comm sleep returned %+v", p)
			}
		}
		findOne(t, procs, "the sleep child", func(p *commonEvent) bool { return p.Pid == int64(child) })
	})

	t.Run("threads", func(t *testing.T) {
		procs := snapshotProcs(t, "--threads")
		mine := countOf(procs, func(p *commonEvent) bool { return p.Pid == int64(self) })
		if mine < 2 {
			t.Errorf("--threads: %d entries for the test process, want at least 2 (Go runtime threads)", mine)
		}
		main := findOne(t, procs, "the test's main thread", func(p *commonEvent) bool {
			return p.Pid == int64(self) && p.Tid == int64(self)
		})
		if main.Comm != comm || main.Ppid != int64(os.Getppid()) {
			t.Errorf("main thread: got %+v", main)
		}
		tids := map[int64]bool{}
		for _, p := range procs {
			if tids[p.Tid] {
				t.Errorf("--threads: tid %d listed twice", p.Tid)
			}
			tids[p.Tid] = true
			if p.Pid == int64(self) {
				if _, err := os.Stat("/proc/self/task/" + strconv.FormatInt(p.Tid, 10)); err != nil {
					t.Errorf("--threads: %+v is not a thread of the test: %v", p, err)
				}
			}
		}
	})

	t.Run("columns", func(t *testing.T) {
		r := runIG(t, "snapshot", "process")
		checkSuccess(t, r)
		lines := completeLines(r.Stdout)
		if len(lines) < 2 {
			t.Fatalf("want a header and rows: %s", r)
		}
		hdr := strings.Fields(lines[0])
		if len(hdr) < 3 || hdr[0] != "CONTAINER" || !strings.HasPrefix(lines[0], "CONTAINER") {
			t.Fatalf("header %q does not start with CONTAINER", lines[0])
		}
		col := map[string]int{}
		for i, h := range hdr {
			col[h] = i
		}
		for _, h := range []string{"COMM", "PID"} {
			if _, ok := col[h]; !ok {
				t.Fatalf("header %q lacks %s", lines[0], h)
			}
		}
		// CONTAINER is empty on the host, so a row's fields are the header's
		// minus the first.
		found := 0
		for _, l := range lines[1:] {
			f := strings.Fields(l)
			if len(f) == len(hdr)-1 && f[col["PID"]-1] == strconv.Itoa(child) {
				found++
				if f[col["COMM"]-1] != "sleep" {
					t.Errorf("row for the child: %q", l)
				}
			}
		}
		if found != 1 {
			t.Errorf("want one row for the child %d, got %d:\n%s", child, found, r.Stdout)
		}
	})

	t.Run("jsonpretty", func(t *testing.T) {
		r := runIG(t, "snapshot", "process", "-o", "jsonpretty")
		procs := decodeAll[commonEvent](t, snapshotArray(t, r))
		findOne(t, procs, "the sleep child", func(p *commonEvent) bool { return p.Pid == int64(child) })
		if strings.Count(string(r.Stdout), "\n") < len(procs) {
			t.Errorf("jsonpretty output is not indented: %.300s", r.Stdout)
		}
	})
}

// TestSnapshotProcessFromProc runs snapshot process where the kernel's BTF
// is hidden (an empty tmpfs on /sys/kernel/btf, in a mount namespace of its
// own), so that it reads /proc, and compares its rows with the task
// iterator's: same comm (the kernel's, at most 15 bytes, not /proc's longer
// names of kernel threads), ppid, uid, gid, and timestamps of the moment.
func TestSnapshotProcessFromProc(t *testing.T) {
	igBinary(t)
	child := startSleep(t)
	other := startSleep(t, asOtherIDs)
	hide := `if [ -d /sys/kernel/btf ]; then mount -t tmpfs none /sys/kernel/btf || exit 1; fi; exec "$@"`
	type key struct{ pid, tid int64 }
	rows := func(procs []commonEvent) map[key]commonEvent {
		m := map[key]commonEvent{}
		for _, p := range procs {
			m[key{p.Pid, p.Tid}] = p
		}
		return m
	}

	before := rows(snapshotProcs(t, "--threads"))
	from := time.Now()
	r := startCmd(t, requireTool(t, "unshare"), "--mount", "--propagation", "private", "sh", "-c", hide, "sh",
		igBinary(t), "-v", "snapshot", "process", "--threads", "-o", "json").wait()
	to := time.Now()
	fromProc := decodeAll[commonEvent](t, snapshotArray(t, r))
	if !strings.Contains(string(r.Stderr), "reading /proc") {
		t.Fatalf("with the kernel's BTF hidden, ig did not read /proc: %s", r)
	}
	after := rows(snapshotProcs(t, "--threads"))

	findOne(t, fromProc, "the sleep child", func(p *commonEvent) bool { return p.Pid == int64(child) && p.Comm == "sleep" })
	o := findOne(t, fromProc, "the sleep child of other ids", func(p *commonEvent) bool { return p.Pid == int64(other) })
	checkOtherIDs(t, "sleep child of other ids, from /proc", o)
	compared := 0
	for _, p := range fromProc {
		checkNear(t, fmt.Sprintf("pid %d tid %d (%s)", p.Pid, p.Tid, p.Comm), p.Timestamp, from, to)
		if len(p.Comm) > 15 {
			t.Errorf("pid %d tid %d: comm %q is longer than the kernel's 15 bytes", p.Pid, p.Tid, p.Comm)
		}
		// Tasks that did not change between the iterator's two snapshots
		// must look the same from /proc.
		b, ok1 := before[key{p.Pid, p.Tid}]
		a, ok2 := after[key{p.Pid, p.Tid}]
		if !ok1 || !ok2 || a.Comm != b.Comm || a.Ppid != b.Ppid || a.Pcomm != b.Pcomm || a.Uid != b.Uid || a.Gid != b.Gid {
			continue
		}
		compared++
		// The kernel's pcomm is the forking thread's; /proc knows only the
		// parent's main thread, and no parent for ppid 0 (the kernel's
		// swapper/0, or one outside this pid namespace).
		pcommOK := p.Pcomm == a.Pcomm || a.Ppid == 0 && p.Pcomm == "" || slices.Contains(threadComms(int(a.Ppid)), a.Pcomm)
		if p.Comm != a.Comm || p.Ppid != a.Ppid || !pcommOK || p.Uid != a.Uid || p.Gid != a.Gid || (p.MountNsID != 0 && p.MountNsID != a.MountNsID) {
			t.Errorf("pid %d tid %d: from /proc comm %q ppid %d pcomm %q uid %d gid %d mntns %d; the iterator says comm %q ppid %d pcomm %q uid %d gid %d mntns %d",
				p.Pid, p.Tid, p.Comm, p.Ppid, p.Pcomm, p.Uid, p.Gid, p.MountNsID, a.Comm, a.Ppid, a.Pcomm, a.Uid, a.Gid, a.MountNsID)
		}
	}
	if compared < 10 {
		t.Errorf("only %d tasks to compare between /proc and the iterator", compared)
	}
}
