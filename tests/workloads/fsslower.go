package workloads

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func init() { Table["trace fsslower"] = traceFsslower }

// fsEvent is what trace fsslower reports of one operation.
type fsEvent struct {
	Pid     int    `json:"pid"`
	Comm    string `json:"comm"`
	Op      string `json:"op"`
	Bytes   int    `json:"bytes"`
	Offset  int    `json:"offset"`
	Latency int    `json:"latency"`
	File    string `json:"file"`
}

// FsTypeOf is the type of the filesystem path is on, from /proc/self/mounts
// (the mount with the longest prefix of path; the last of equals, which
// covers the others).
func FsTypeOf(path string) (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	defer f.Close()
	best, fsType := -1, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mnt := fields[1]
		if (path == mnt || strings.HasPrefix(path, strings.TrimSuffix(mnt, "/")+"/")) && len(mnt) >= best {
			best, fsType = len(mnt), fields[2]
		}
	}
	if fsType == "" {
		return "", fmt.Errorf("no mount holds %s", path)
	}
	return fsType, sc.Err()
}

// trace fsslower -m 0, filtered to this process, on the filesystem of
// os.TempDir(): an open, a write, an fsync and a read at an offset of a
// file of its own; with the variant the host offers first, then with the
// tracepoint variant (the fallback of the fentry one).
func traceFsslower(r *Run, h Host) (string, error) {
	return AlsoVariant(r, "tracepoint", false, func(r *Run) (string, error) { return fsslowerRun(r, h) })
}

func fsslowerRun(r *Run, h Host) (string, error) {
	self := os.Getpid()
	dir := os.TempDir()
	fsType, err := FsTypeOf(dir)
	if err != nil {
		return "", err
	}
	marker := filepath.Join(dir, "ig-fsslower-marker-"+r.Tag)
	path := filepath.Join(dir, "ig-fsslower-"+r.Tag)
	defer os.Remove(marker)
	defer os.Remove(path)
	if err := r.Start(true, "-m", "0", "-f", fsType, "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	is := func(e Event, op, file string) (fsEvent, bool) {
		var f fsEvent
		return f, e.DecodeRaw(&f) == nil && f.Op == op && f.File == file
	}
	// Attached when a write of the marker file shows up.
	if _, err := r.Await("a write of the marker file", r.AttachTimeout, func() {
		_ = os.WriteFile(marker, []byte("x"), 0o644)
	}, func(e Event) bool { _, ok := is(e, "W", filepath.Base(marker)); return ok }); err != nil {
		return "", err
	}

	data := []byte(strings.Repeat("ig fsslower ", 100)) // 1200 bytes
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 4096)
	if n, err := unix.Write(fd, data); err != nil || n != len(data) {
		return "", fmt.Errorf("write: %d %v", n, err)
	}
	if err := unix.Fsync(fd); err != nil {
		return "", err
	}
	if n, err := unix.Pread(fd, buf[:100], 7); err != nil || n != 100 {
		return "", fmt.Errorf("pread: %d %v", n, err)
	}

	var problems Problems
	check := problems.Check
	name := filepath.Base(path)
	for _, c := range []struct {
		op            string
		bytes, offset int
	}{{"O", 0, 0}, {"W", len(data), 0}, {"F", 0, 0}, {"R", 100, 7}} {
		e, err := r.Await(c.op+" of "+path, r.EventTimeout, nil, func(e Event) bool { _, ok := is(e, c.op, name); return ok })
		if err != nil {
			return "", err
		}
		f, _ := is(e, c.op, name)
		check(c.op+": pid", f.Pid, self)
		check(c.op+": comm", f.Comm, h.Comm)
		check(c.op+": bytes", f.Bytes, c.bytes)
		check(c.op+": offset", f.Offset, c.offset)
		if f.Latency < 0 {
			problems = append(problems, fmt.Sprintf("%s: latency %d", c.op, f.Latency))
		}
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught open, write, fsync and pread (bytes, offset) of a file on %s", fsType), nil
}
