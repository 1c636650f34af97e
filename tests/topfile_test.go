package tests

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fileStats is a top file row, as JSON.
type fileStats struct {
	commonEvent
	Reads    uint64 `json:"reads"`
	Writes   uint64 `json:"writes"`
	RBytes   uint64 `json:"rbytes"`
	WBytes   uint64 `json:"wbytes"`
	FileType uint8  `json:"fileType"`
	Filename string `json:"filename"`
	Dev      uint32 `json:"dev"`
	Ino      uint64 `json:"ino"`
}

// tablesOf parses the output of a top gadget run with -o json: one JSON
// array a line, one line an interval.
func tablesOf[T any](t *testing.T, stdout []byte) [][]T {
	t.Helper()
	var tables [][]T
	for _, line := range completeLines(stdout) {
		var raw []json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatalf("not one JSON array a line: %v: %q", err, line)
		}
		tables = append(tables, decodeAll[T](t, raw))
	}
	return tables
}

// tableMatcher is a found function for waitUntil: whether some interval's
// table so far has a row match accepts.
func tableMatcher[T any](t *testing.T, match func(*T) bool) func([]byte) bool {
	return func(out []byte) bool {
		for _, table := range tablesOf[T](t, out) {
			for i := range table {
				if match(&table[i]) {
					return true
				}
			}
		}
		return false
	}
}

// waitTopFile writes to marker until ig's tables show it: ig is attached.
func (p *proc) waitTopFile(marker string) {
	p.t.Helper()
	p.waitUntil("a write of "+marker, func() { _ = os.WriteFile(marker, []byte("x"), 0o600) },
		tableMatcher(p.t, func(r *fileStats) bool { return r.Filename == marker && r.Writes > 0 }))
}

// sumOf adds up, over every interval, the rows of path: a burst of I/O
// may straddle two intervals, and each table holds only its own.
func sumOf(tables [][]fileStats, path string) (sum fileStats, rows int) {
	for _, table := range tables {
		for _, r := range table {
			if r.Filename != path {
				continue
			}
			if rows == 0 {
				sum = r
			} else {
				sum.Reads += r.Reads
				sum.Writes += r.Writes
				sum.RBytes += r.RBytes
				sum.WBytes += r.WBytes
			}
			rows++
		}
	}
	return sum, rows
}

// topFileDir is a directory of the test's own on / (symlinks resolved:
// ig shows the real path).
func topFileDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/var/tmp", "ig-topfile-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	dir, err = filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestTopFile: the test writes 7000 bytes in 7 writes to a file of its own
// and reads back 2000 of the 5000 it asks for; the rows of that file add
// up to exactly that, with the test's pid, comm and the file's full path.
// Another file gets more, smaller writes: with --sort -wbytes -m 1, each
// table has one row, the file with the most bytes written.
func TestTopFile(t *testing.T) {
	igBinary(t)
	dir := topFileDir(t)
	marker := filepath.Join(dir, unique("marker"))
	path := filepath.Join(dir, unique("file"))
	small := filepath.Join(dir, unique("small"))
	pid := strconv.Itoa(os.Getpid())

	work := func() {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		sfd, err := unix.Open(small, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(sfd)
		block := bytes.Repeat([]byte("x"), 1000)
		for i := 0; i < 70; i++ {
			if _, err := unix.Write(sfd, block[:10]); err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if n, err := unix.Write(fd, block); err != nil || n != 1000 {
					t.Fatalf("write: %d %v", n, err)
				}
			}
		}
		buf := make([]byte, 5000)
		if n, err := unix.Pread(fd, buf, 5000); err != nil || n != 2000 {
			t.Fatalf("pread: %d %v, want 2000", n, err)
		}
	}

	// Exact counts, all rows.
	ig := startIG(t, "top", "file", "-o", "json", "--interval", "1", "--pid", pid)
	ig.waitTopFile(marker)
	work()
	ig.waitUntil("the pread of "+path, nil, tableMatcher(t, func(r *fileStats) bool { return r.Filename == path && r.Reads > 0 }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	tables := tablesOf[fileStats](t, r.Stdout)
	got, rows := sumOf(tables, path)
	if rows == 0 {
		t.Fatalf("no row of %s in %d tables:\n%s", path, len(tables), r.Stdout)
	}
	if got.Writes != 7 || got.WBytes != 7000 || got.Reads != 1 || got.RBytes != 2000 {
		t.Errorf("%s: writes %d wbytes %d reads %d rbytes %d, want 7 7000 1 2000 (bytes done, not asked)",
			path, got.Writes, got.WBytes, got.Reads, got.RBytes)
	}
	if got.Pid != int64(os.Getpid()) || got.Comm != testComm(t) || got.FileType != 'R' {
		t.Errorf("%s: pid %d comm %q type %q, want %d %q R", path, got.Pid, got.Comm, got.FileType, os.Getpid(), testComm(t))
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if got.Ino != st.Ino {
		t.Errorf("%s: ino %d, want %d", path, got.Ino, st.Ino)
	}
	if s, _ := sumOf(tables, small); s.Writes != 70 || s.WBytes != 700 {
		t.Errorf("%s: writes %d wbytes %d, want 70 700", small, s.Writes, s.WBytes)
	}
	for _, table := range tables {
		for _, row := range table {
			if row.Pid != int64(os.Getpid()) {
				t.Errorf("--pid %s let through pid %d (%s)", pid, row.Pid, row.Filename)
			}
		}
	}

	// --sort -wbytes -m 1: one row a table, the most bytes written. The
	// default order (-reads,-writes) would put the small file first.
	os.Remove(path)
	ig = startIG(t, "top", "file", "-o", "json", "--interval", "1", "--pid", pid, "--sort", "-wbytes", "-m", "1")
	ig.waitTopFile(marker)
	work()
	ig.waitUntil("a row of "+path, nil, tableMatcher(t, func(r *fileStats) bool { return r.Filename == path }))
	r = ig.stop(sigINT)
	checkSuccess(t, r)
	tables = tablesOf[fileStats](t, r.Stdout)
	for _, table := range tables {
		if len(table) > 1 {
			t.Errorf("-m 1: a table of %d rows", len(table))
		}
	}
	if got, _ := sumOf(tables, path); got.WBytes != 7000 {
		t.Errorf("--sort -wbytes -m 1: %s's rows add up to %d bytes written, want 7000 (it was not always first)", path, got.WBytes)
	}
	if _, rows := sumOf(tables, small); rows > 0 {
		t.Errorf("--sort -wbytes -m 1 showed %s, which wrote less", small)
	}
}

// TestTopFileErrors: a bad --sort, --interval or -m is one clear line.
func TestTopFileErrors(t *testing.T) {
	igBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sort", "-nosuch"}, `unknown column "nosuch"`},
		{[]string{"--interval", "0"}, "--interval 0: want 1 or more seconds"},
		{[]string{"-m", "0"}, "--max-rows 0: want 1 or more"},
	} {
		r := runIG(t, append([]string{"top", "file", "-t", "1"}, c.args...)...)
		if msg := checkFailure(t, r); !strings.Contains(msg, c.want) {
			t.Errorf("%v: %q, want it to say %q", c.args, msg, c.want)
		}
	}
}

// fromKernelRe is ig -v's count, per interval, of a top gadget's rows.
var fromKernelRe = regexp.MustCompile(`(?m)^ig: (\d+) rows from the kernel, (\d+) after filters$`)

// TestTopFileContainer: -c NAME shows dd's writes in a docker container,
// with the container's name and the path inside it, and the kernel's map
// holds no other namespace's rows while the host writes files too.
func TestTopFileContainer(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	file := "/" + unique("ig-topfile")
	ig := startIG(t, "top", "file", "-o", "json", "-v", "-c", name)
	hostDir := topFileDir(t)
	ig.waitUntil("dd's writes in the container", func() {
		_ = os.WriteFile(filepath.Join(hostDir, unique("host")), []byte("host"), 0o600)
		inContainer(t, "docker", name, "dd", "if=/dev/zero", "of="+file, "bs=1000", "count=5")
	}, tableMatcher(t, func(r *fileStats) bool { return r.Filename == file && r.Comm == "dd" }))
	// Two more intervals while the host writes.
	for i := 0; i < 25; i++ {
		_ = os.WriteFile(filepath.Join(hostDir, unique("host")), []byte("host"), 0o600)
		time.Sleep(100 * time.Millisecond)
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r, regexp.MustCompile(`^ig: `))
	tables := tablesOf[fileStats](t, r.Stdout)
	found := false
	for _, table := range tables {
		for _, row := range table {
			if row.Runtime.ContainerName != name || row.Runtime.RuntimeName != "docker" {
				t.Errorf("-c %s let through a row of %q: %s", name, row.Runtime.ContainerName, row.Filename)
			}
			if row.Filename == file && row.Comm == "dd" {
				found = true
				if row.WBytes != 5000 || row.Writes != 5 {
					t.Errorf("dd in the container: writes %d wbytes %d, want 5 5000", row.Writes, row.WBytes)
				}
			}
		}
	}
	if !found {
		t.Fatalf("no row of dd writing %s", file)
	}
	kernelKeptOut(t, r, "-c "+name)
}

// kernelKeptOut checks, by a top gadget's -v counts, that the kernel's map
// held no row the filter dropped (filter names it) while the host was
// busy. The first two intervals may hold namespaces of no container that
// ig had not seen yet (the host's is skipped from the start): a process of
// such a namespace has rows in the kernel's map until ig has learned of
// it, a moment after the table that showed it first.
//
// A namespace that no verdict covered yet (a process of the host that
// has just made one, say) reaches the kernel's map once: ig names it
// (-v), leaves its rows out, and has the kernel skip it from then on.
// Rows left out in an interval that named no new namespace are the
// filter's fault.
func kernelKeptOut(t *testing.T, r result, filter string) {
	t.Helper()
	counts := fromKernelRe.FindAllStringSubmatch(string(r.Stderr), -1)
	if len(counts) < 3 {
		t.Fatalf("want -v counts of at least three intervals, got %d:\n%s", len(counts), r.Stderr)
	}
	// Each interval's count, with the namespaces named before it.
	named := 0
	var intervals []struct{ fromKernel, shown, newlyNamed int }
	for _, line := range strings.Split(string(r.Stderr), "\n") {
		if strings.Contains(line, ": not selected; its rows are left out") {
			named++
			continue
		}
		if m := fromKernelRe.FindStringSubmatch(line); m != nil {
			k, _ := strconv.Atoi(m[1])
			s, _ := strconv.Atoi(m[2])
			intervals = append(intervals, struct{ fromKernel, shown, newlyNamed int }{k, s, named})
			named = 0
		}
	}
	for _, iv := range intervals[2:] {
		if iv.fromKernel != iv.shown && iv.newlyNamed == 0 {
			t.Errorf("%s: the kernel's map held %d rows, %d of them shown, of no new namespace: the filter is not in the kernel",
				filter, iv.fromKernel, iv.shown)
		}
	}
}

// TestTopFileTimeout: --timeout shorter than --interval still prints
// what was counted, in one table, and exits 0.
func TestTopFileTimeout(t *testing.T) {
	igBinary(t)
	dir := topFileDir(t)
	path := filepath.Join(dir, unique("file"))
	ig := startIG(t, "top", "file", "-o", "json", "--interval", "60", "--timeout", "2", "--pid", strconv.Itoa(os.Getpid()), "-v")
	deadline := time.Now().Add(attachTimeout)
	for !strings.Contains(ig.stderr.String(), "attached after") && time.Now().Before(deadline) && !ig.exited() {
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(path, []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := ig.wait()
	checkSuccess(t, r, regexp.MustCompile(`^ig: `))
	tables := tablesOf[fileStats](t, r.Stdout)
	if len(tables) != 1 {
		t.Fatalf("%d tables, want 1 (at the timeout):\n%s", len(tables), r.Stdout)
	}
	if got, rows := sumOf(tables, path); rows != 1 || got.Writes != 1 || got.WBytes != 5 {
		t.Errorf("%s: %d rows, writes %d wbytes %d; want 1 row, 1 write of 5 bytes", path, rows, got.Writes, got.WBytes)
	}
}

// TestTopFileFull: more files in one interval than the kernel's table
// holds (10240 rows): the table is full, and ig says how many writes it
// could not count, on stderr, rather than drop them silently.
func TestTopFileFull(t *testing.T) {
	igBinary(t)
	dir := topFileDir(t)
	marker := filepath.Join(dir, unique("marker"))
	ig := startIG(t, "top", "file", "-o", "json", "--interval", "5", "--pid", strconv.Itoa(os.Getpid()), "-m", "1")
	ig.waitUntil("a write of "+marker, func() { _ = os.WriteFile(marker, []byte("x"), 0o600) },
		func(out []byte) bool { return len(completeLines(out)) > 0 })
	// Twice the table: however the writes straddle two intervals, one
	// of them gets more than it holds.
	const files = 21000
	for i := 0; i < files; i++ {
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ig.waitUntil("a warning of writes not counted", nil, func([]byte) bool {
		return strings.Contains(ig.stderr.String(), "not counted")
	})
	r := ig.stop(sigINT)
	m := regexp.MustCompile(`ig: (\d+) updates not counted \(the kernel's table of 10240 entries was full\)`).FindStringSubmatch(string(r.Stderr))
	if m == nil {
		t.Fatalf("no count of writes not counted on stderr:\n%s", r.Stderr)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > files {
		t.Errorf("%d writes not counted, want between 1 and %d", n, files)
	}
	tables := tablesOf[fileStats](t, r.Stdout)
	for _, table := range tables {
		for _, row := range table {
			if !strings.HasPrefix(row.Filename, dir+"/") {
				t.Errorf("a row of %s", row.Filename)
			}
		}
	}
}
