package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// blockRow is a top block-io row, as JSON.
type blockRow struct {
	commonEvent
	Write bool   `json:"write"`
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Bytes uint64 `json:"bytes"`
	Us    uint64 `json:"us"`
	Ops   uint64 `json:"ops"`
}

// blockReport is a profile block-io report, as JSON.
type blockReport struct {
	Disk    string `json:"disk"`
	Runtime struct {
		RuntimeName   string `json:"runtimeName"`
		ContainerName string `json:"containerName"`
	} `json:"runtime"`
	Unit      string `json:"unit"`
	Intervals []struct {
		Count uint64 `json:"count"`
		Start uint64 `json:"start"`
		End   uint64 `json:"end"`
	} `json:"intervals"`
}

func (r *blockReport) total() uint64 {
	var n uint64
	for _, iv := range r.Intervals {
		n += iv.Count
	}
	return n
}

// blockIOProgs are the programs of both block-io gadgets, as the kernel
// lists them (whole, from their BTF).
var blockIOProgs = []string{"block_rq_insert", "block_rq_issue", "block_rq_merge", "block_rq_complete"}

// blockDir is a new directory on the filesystem of / and that filesystem's
// device (major, minor), which is a disk here (/dev/vda).
func blockDir(t *testing.T) (string, uint32, uint32) {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "ig-blockio-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var st, root unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat("/", &root); err != nil {
		t.Fatal(err)
	}
	if st.Dev != root.Dev {
		t.Fatalf("%s is not on the filesystem of /", dir)
	}
	major, minor := unix.Major(st.Dev), unix.Minor(st.Dev)
	if _, err := os.Stat(fmt.Sprintf("/sys/dev/block/%d:%d/partition", major, minor)); err == nil {
		t.Fatalf("/ is on a partition (%d:%d): the rows are the disk's", major, minor)
	}
	return dir, major, minor
}

// directWrite runs dd writing count blocks of bs to a new file with
// O_DIRECT (each block one request at the device, at most) and returns
// its pid.
func directWrite(t *testing.T, file, bs string, count int) int {
	t.Helper()
	cmd := exec.Command("dd", "if=/dev/zero", "of="+file, "bs="+bs, "count="+strconv.Itoa(count), "oflag=direct")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return cmd.Process.Pid
}

// blockTables decodes top block-io -o json output: one JSON array a table.
func blockTables(t *testing.T, out []byte) [][]blockRow {
	t.Helper()
	var tables [][]blockRow
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("table %d: %v", len(tables)+1, err)
		}
		var rows []json.RawMessage
		if err := json.Unmarshal(raw, &rows); err != nil {
			t.Fatalf("table %d is not a JSON array: %v: %.200s", len(tables)+1, err, raw)
		}
		tables = append(tables, decodeAll[blockRow](t, rows))
	}
	return tables
}

// rowsOf is every row of pid (all tables), and the bytes it wrote.
func rowsOf(tables [][]blockRow, pid int) ([]blockRow, uint64) {
	var rows []blockRow
	var written uint64
	for _, tb := range tables {
		for _, r := range tb {
			if r.Pid == int64(pid) {
				rows = append(rows, r)
				if r.Write {
					written += r.Bytes
				}
			}
		}
	}
	return rows, written
}

// waitBlockRow runs dd (one direct block) until ig shows a row of it: ig
// has attached.
func (p *proc) waitBlockRow(file string) {
	p.t.Helper()
	pids := map[int64]bool{} // every marker dd: a row shows an interval later
	p.waitUntil("a row of dd's direct write", func() { pids[int64(directWrite(p.t, file, "4k", 1))] = true },
		streamMatcher(func(rows *[]blockRow) bool {
			for _, r := range *rows {
				if pids[r.Pid] && r.Write {
					return true
				}
			}
			return false
		}))
}

// TestTopBlockIO: dd writing 8 MiB with O_DIRECT to a file on / shows as
// writes of at least 8 MiB by dd's pid, on /'s disk, with its time and
// request count; nothing of it on another device.
func TestTopBlockIO(t *testing.T) {
	igBinary(t)
	dir, major, minor := blockDir(t)
	ig := startIG(t, "top", "block-io", "-o", "json", "--interval", "1")
	ig.waitBlockRow(filepath.Join(dir, "marker"))
	const size = 8 << 20
	pid := directWrite(t, filepath.Join(dir, "data"), "1M", size>>20)
	ig.waitUntil("8 MiB written by dd", nil, func(out []byte) bool {
		dec := json.NewDecoder(bytes.NewReader(out))
		var written uint64
		for {
			var rows []blockRow
			if dec.Decode(&rows) != nil {
				return written >= size
			}
			_, w := rowsOf([][]blockRow{rows}, pid)
			written += w
		}
	})
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	rows, written := rowsOf(blockTables(t, r.Stdout), pid)
	if written < size {
		t.Errorf("dd (pid %d) wrote %d bytes, ig shows %d: %+v", pid, size, written, rows)
	}
	var ops, us uint64
	for _, row := range rows {
		// A read of dd's pid may come from before its exec (its binary).
		if row.Write && (row.Comm != "dd" || row.MountNsID != mountNsID(t) || row.Runtime.ContainerName != "") {
			t.Errorf("dd's row: comm %q mntns %d container %q, want dd, %d, none", row.Comm, row.MountNsID, row.Runtime.ContainerName, mountNsID(t))
		}
		if row.Major != major || row.Minor != minor {
			t.Errorf("dd's row is on %d:%d, / is on %d:%d: %+v", row.Major, row.Minor, major, minor, row)
		}
		if row.Write {
			ops += row.Ops
			us += row.Us
		}
	}
	// 1 MiB writes: one request each or split in a few (max_sectors_kb).
	if ops < size>>20 || ops > size>>12 {
		t.Errorf("dd's writes took %d requests, want 8 to 2048", ops)
	}
	if us == 0 {
		t.Error("dd's writes took 0 µs at the device")
	}
}

// TestTopBlockIOColumns: the table for people has IG's columns and dd's
// writes with W.
func TestTopBlockIOColumns(t *testing.T) {
	igBinary(t)
	dir, major, minor := blockDir(t)
	ig := startIG(t, "top", "block-io", "--interval", "1")
	pids := map[string]bool{}
	row := regexp.MustCompile(`(?m)^\s*(\d+)\s+dd\s+W\s+` + fmt.Sprint(major) + `\s+` + fmt.Sprint(minor) + `\s+\d+\s+\d+\s+\d+\s*$`)
	ig.waitUntil("dd's row", func() { pids[strconv.Itoa(directWrite(t, filepath.Join(dir, "data"), "4k", 4))] = true }, func(out []byte) bool {
		for _, m := range row.FindAllSubmatch(out, -1) {
			if pids[string(m[1])] {
				return true
			}
		}
		return false
	})
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	if !regexp.MustCompile(`(?m)^CONTAINER\s+PID\s+COMM\s+R/W\s+MAJOR\s+MINOR\s+BYTES\s+US\s+OPS\s*$`).Match(r.Stdout) {
		t.Errorf("no header CONTAINER PID COMM R/W MAJOR MINOR BYTES US OPS in:\n%s", tail(r.Stdout))
	}
}

// TestTopBlockIOContainer: under -c, dd in a docker container writing to
// its root filesystem (overlay on /'s disk) shows with the container's
// name; the host's dd does not show.
func TestTopBlockIOContainer(t *testing.T) {
	runtimesUp(t)
	dir, major, minor := blockDir(t)
	name, ctrPid := container(t, "docker")
	ig := startIG(t, "top", "block-io", "-o", "json", "--interval", "1", "-c", name, "-v")
	isCtrDD := func(r *blockRow) bool { return r.Comm == "dd" && r.Write && r.Bytes > 0 }
	ig.waitUntil("dd's writes in the container", func() {
		inContainer(t, "docker", name, "dd", "if=/dev/zero", "of=/ig-blockio", "bs=1M", "count=4", "oflag=direct")
	}, streamMatcher(func(rows *[]blockRow) bool {
		for i := range *rows {
			if isCtrDD(&(*rows)[i]) {
				return true
			}
		}
		return false
	}))
	hostPid := directWrite(t, filepath.Join(dir, "host"), "1M", 2)
	inContainer(t, "docker", name, "dd", "if=/dev/zero", "of=/ig-blockio", "bs=1M", "count=4", "oflag=direct")
	ig.waitBlockTables(2) // the host's dd has had time to show, were it let through
	// Three more intervals of the host's direct writes: the kernel keeps them out.
	for i := 0; i < 15; i++ {
		directWrite(t, filepath.Join(dir, "host"), "64k", 4)
		time.Sleep(200 * time.Millisecond)
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r, regexp.MustCompile(`^ig: `))
	kernelKeptOut(t, r, "-c "+name)

	var written uint64
	for _, tb := range blockTables(t, r.Stdout) {
		for _, row := range tb {
			if row.Runtime.ContainerName != name || row.Runtime.RuntimeName != "docker" || row.MountNsID != mountNsOf(t, ctrPid) {
				t.Errorf("-c %s let through a row of %q (runtime %q, mntns %d): %+v", name, row.Runtime.ContainerName, row.Runtime.RuntimeName, row.MountNsID, row)
			}
			if row.Pid == int64(hostPid) {
				t.Errorf("-c %s let through the host's dd: %+v", name, row)
			}
			if isCtrDD(&row) {
				written += row.Bytes
				if row.Major != major || row.Minor != minor {
					t.Errorf("the container's dd wrote to %d:%d, want /'s disk %d:%d", row.Major, row.Minor, major, minor)
				}
			}
		}
	}
	if written < 8<<20 {
		t.Errorf("the container's two dd wrote 8 MiB, ig shows %d bytes", written)
	}
}

// waitBlockTables waits for n more tables (top's -o json arrays).
func (p *proc) waitBlockTables(n int) {
	p.t.Helper()
	have := bytes.Count(p.stdout.Bytes(), []byte("\n"))
	p.waitUntil(fmt.Sprintf("%d more tables", n), nil, func(out []byte) bool {
		return bytes.Count(out, []byte("\n")) >= have+n
	})
}

// blockReports decodes profile block-io -o json output.
func blockReports(t *testing.T, out []byte) []blockReport {
	t.Helper()
	return eventsOf[blockReport](t, out)
}

// profileBlockIO runs profile block-io -o json --comm dd with args, calls
// workload once it has attached (a marker dd counted), and returns its
// reports from then on.
func profileBlockIO(t *testing.T, dir string, workload func(), args ...string) []blockReport {
	t.Helper()
	ig := startIG(t, append([]string{"profile", "block-io", "-o", "json", "--interval", "1", "--comm", "dd"}, args...)...)
	counted := func(out []byte) bool {
		for _, o := range jsonLines(t, completeOutput(out)) {
			var r blockReport
			if json.Unmarshal(o, &r) == nil && r.total() > 0 {
				return true
			}
		}
		return false
	}
	ig.waitUntil("a report that counted the marker dd", func() { directWrite(t, filepath.Join(dir, "marker"), "4k", 1) }, counted)
	// Markers started while waiting are counted in the next report or the
	// one after: leave them behind.
	time.Sleep(2200 * time.Millisecond)
	seen := len(completeOutput(ig.stdout.Bytes()))
	// --comm dd is the kernel's filter only (the histograms have no
	// process to filter on in user space): this process's own direct
	// writes meanwhile must not count.
	otherWrites(t, filepath.Join(dir, "other"), 200)
	workload()
	otherWrites(t, filepath.Join(dir, "other"), 200)
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	return blockReports(t, r.Stdout[seen:])
}

// otherWrites writes n blocks of 4 KiB with O_DIRECT from this process
// (not dd).
func otherWrites(t *testing.T, file string, n int) {
	t.Helper()
	fd, err := unix.Open(file, unix.O_WRONLY|unix.O_CREAT|unix.O_DIRECT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := 0; i < n; i++ {
		if _, err := unix.Pwrite(fd, buf, int64(i%64)*4096); err != nil {
			t.Fatal(err)
		}
	}
}

// completeOutput is out up to its last newline.
func completeOutput(out []byte) []byte {
	return out[:bytes.LastIndexByte(out, '\n')+1]
}

// TestProfileBlockIO: dd's 64 direct 4 KiB writes are 64 requests: the
// histogram (dd's only, --comm dd) counts 64 of them, in microseconds.
func TestProfileBlockIO(t *testing.T) {
	igBinary(t)
	dir, _, _ := blockDir(t)
	const n = 64
	reports := profileBlockIO(t, dir, func() { directWrite(t, filepath.Join(dir, "data"), "4k", n) })
	var total uint64
	for _, r := range reports {
		if r.Unit != "us" || r.Disk != "" || r.Runtime.ContainerName != "" {
			t.Errorf("report: unit %q disk %q container %q, want us and neither", r.Unit, r.Disk, r.Runtime.ContainerName)
		}
		total += r.total()
	}
	// The file's block allocation may add a request or two of dd's.
	if total < n || total > n+8 {
		t.Errorf("the histograms count %d requests, want %d (dd's writes) to %d", total, n, n+8)
	}
}

// TestProfileBlockIOPerDisk: --per-disk names the histogram for /'s disk
// as the kernel does (vda here), with dd's requests; the text output heads
// it "disk = vda".
func TestProfileBlockIOPerDisk(t *testing.T) {
	igBinary(t)
	dir, major, minor := blockDir(t)
	disk := diskNameOf(t, major, minor)
	const n = 32
	reports := profileBlockIO(t, dir, func() { directWrite(t, filepath.Join(dir, "data"), "4k", n) }, "--per-disk")
	var total uint64
	for _, r := range reports {
		if r.Disk != disk {
			t.Errorf("dd wrote to %s only, got a histogram of %q", disk, r.Disk)
		}
		total += r.total()
	}
	if total < n || total > n+8 {
		t.Errorf("%s's histograms count %d requests, want %d to %d", disk, total, n, n+8)
	}

	ig := startIG(t, "profile", "block-io", "--per-disk", "--comm", "dd", "-t", "3")
	ig.waitUntil("the end of the report", func() { directWrite(t, filepath.Join(dir, "text"), "4k", 1) }, func([]byte) bool { return ig.exited() })
	r := ig.wait()
	checkSuccess(t, r)
	if !regexp.MustCompile(`(?m)^disk = ` + disk + `\n\s+usecs\s+: count\s+distribution\n(\s+\d+ -> \d+\s+: \d+\s+\|[* ]{40}\|\n)+`).Match(r.Stdout) {
		t.Errorf("no histogram headed \"disk = %s\" in:\n%s", disk, r.Stdout)
	}
}

// diskNameOf is the kernel's name of block device major:minor.
func diskNameOf(t *testing.T, major, minor uint32) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/uevent", major, minor))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^DEVNAME=(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no DEVNAME in %s", b)
	}
	return string(m[1])
}

// TestProfileBlockIOPerContainer: --per-container keeps dd's requests in a
// docker container apart from the host's dd's.
func TestProfileBlockIOPerContainer(t *testing.T) {
	runtimesUp(t)
	dir, _, _ := blockDir(t)
	name, _ := container(t, "docker")
	const inCtr, onHost = 40, 24
	reports := profileBlockIO(t, dir, func() {
		inContainer(t, "docker", name, "dd", "if=/dev/zero", "of=/ig-blockio", "bs=4k", "count="+strconv.Itoa(inCtr), "oflag=direct")
		directWrite(t, filepath.Join(dir, "data"), "4k", onHost)
	}, "--per-container")
	counts := map[string]uint64{}
	for _, r := range reports {
		if r.Runtime.ContainerName != "" && (r.Runtime.ContainerName != name || r.Runtime.RuntimeName != "docker") {
			t.Errorf("a histogram of container %q (%s): only %s's dd ran in one", r.Runtime.ContainerName, r.Runtime.RuntimeName, name)
		}
		counts[r.Runtime.ContainerName] += r.total()
	}
	for _, c := range []struct {
		who  string
		want uint64
	}{{name, inCtr}, {"", onHost}} {
		// Overlay's and ext4's own writes for the new file add a few of dd's.
		if got := counts[c.who]; got < c.want || got > c.want*3/2 {
			t.Errorf("%q: %d requests, want %d to %d (all: %v)", c.who, got, c.want, c.want*3/2, counts)
		}
	}
}

// TestBlockIOBadFlags: bad values are one clear line and exit 1.
func TestBlockIOBadFlags(t *testing.T) {
	igBinary(t)
	for _, args := range [][]string{
		{"top", "block-io", "--sort", "nosuch"},
		{"top", "block-io", "--interval", "0"},
		{"profile", "block-io", "--interval", "-1"},
		{"profile", "block-io", "-o", "folded"},
	} {
		r := runIG(t, args...)
		msg := checkFailure(t, r)
		if !strings.Contains(msg, args[len(args)-1]) {
			t.Errorf("%v: the error does not name %q: %s", args, args[len(args)-1], msg)
		}
	}
}

// TestBlockIOLifecycle: both gadgets' programs are attached while they
// run, and none remains after they exit.
func TestBlockIOLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	dir, _, _ := blockDir(t)
	marker := filepath.Join(dir, "marker")
	checkLifecycle(t, lifecycleGadget{"top block-io SIGINT", []string{"top", "block-io", "-o", "json", "--interval", "1"},
		blockIOProgs, func(p *proc) { p.waitBlockRow(marker) }, sigINT})
	checkLifecycle(t, lifecycleGadget{"profile block-io SIGTERM", []string{"profile", "block-io", "-o", "json", "--interval", "1", "--comm", "dd"},
		blockIOProgs, func(p *proc) {
			p.waitUntil("a report", func() { directWrite(t, marker, "4k", 1) }, func(out []byte) bool { return bytes.Contains(out, []byte(`"count":1`)) })
		}, sigTERM})
}

// TestProfileBlockIOContainer: under -c, only the container's dd counts,
// not the host's, which the kernel lets through (it has no verdict for
// the host's namespace) and ig must drop.
func TestProfileBlockIOContainer(t *testing.T) {
	runtimesUp(t)
	dir, _, _ := blockDir(t)
	name, _ := container(t, "docker")
	const n = 40
	ig := startIG(t, "profile", "block-io", "-o", "json", "--interval", "1", "-c", name)
	ig.waitUntil("a report of the container's dd", func() {
		inContainer(t, "docker", name, "dd", "if=/dev/zero", "of=/ig-marker", "bs=4k", "count=1", "oflag=direct")
	}, func(out []byte) bool { return bytes.Contains(out, []byte(`"count":1`)) })
	time.Sleep(2200 * time.Millisecond) // markers started while waiting are reported
	seen := len(completeOutput(ig.stdout.Bytes()))
	directWrite(t, filepath.Join(dir, "host"), "4k", 200)
	inContainer(t, "docker", name, "dd", "if=/dev/zero", "of=/ig-blockio", "bs=4k", "count="+strconv.Itoa(n), "oflag=direct")
	directWrite(t, filepath.Join(dir, "host"), "4k", 200)
	// A mount namespace of no container, new to ig: the kernel has no
	// verdict for it and lets it through; ig must leave it out.
	unshared := exec.Command("unshare", "--mount", "dd", "if=/dev/zero", "of="+filepath.Join(dir, "unshared"), "bs=4k", "count=200", "oflag=direct")
	if out, err := unshared.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", unshared, err, out)
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	var total uint64
	for _, rep := range blockReports(t, r.Stdout[seen:]) {
		total += rep.total()
	}
	if total < n || total > n*3/2 {
		t.Errorf("-c %s: %d requests, want the container dd's %d to %d (the host's 400 and another namespace's 200 left out)", name, total, n, n*3/2)
	}
}
