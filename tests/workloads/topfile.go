package workloads

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func init() { Table["top file"] = topFile }

// fileRow is what top file reports of one process's I/O on one file.
type fileRow struct {
	Pid      int    `json:"pid"`
	Comm     string `json:"comm"`
	Reads    int    `json:"reads"`
	Writes   int    `json:"writes"`
	RBytes   int    `json:"rbytes"`
	WBytes   int    `json:"wbytes"`
	Filename string `json:"filename"`
}

// top file, filtered to this process: 3 writes of 1200 bytes and a read of
// 500 bytes (of 4096 asked) of a file of its own add up, over the
// intervals, to exactly that; with the variant the host offers first, then
// with the fexit variant where the host has fentry (it says why not where
// it has not).
func topFile(r *Run, h Host) (string, error) {
	return AlsoVariant(r, "fexit", true, func(r *Run) (string, error) { return topFileRun(r, h) })
}

func topFileRun(r *Run, h Host) (string, error) {
	self := os.Getpid()
	dir := os.TempDir()
	marker := filepath.Join(dir, "ig-topfile-marker-"+r.Tag)
	path := filepath.Join(dir, "ig-topfile-"+r.Tag)
	defer os.Remove(marker)
	defer os.Remove(path)
	if err := r.Start(true, "--interval", "1", "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	row := func(e Event) (fileRow, bool) {
		var f fileRow
		return f, e.DecodeRaw(&f) == nil && f.Filename == path
	}
	if _, err := r.Await("a write of the marker file", r.AttachTimeout, func() {
		_ = os.WriteFile(marker, []byte("x"), 0o644)
	}, func(e Event) bool {
		var f fileRow
		return e.DecodeRaw(&f) == nil && f.Filename == marker
	}); err != nil {
		// A variant the kernel refuses ends ig before any row.
		for i := 0; i < 50 && !r.HasExited(); i++ {
			time.Sleep(20 * time.Millisecond)
		}
		return "", err
	}

	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	data := bytes.Repeat([]byte("ig top file "), 100) // 1200 bytes
	for i := 0; i < 3; i++ {
		if n, err := unix.Write(fd, data); err != nil || n != len(data) {
			return "", fmt.Errorf("write: %d %v", n, err)
		}
	}
	buf := make([]byte, 4096)
	if n, err := unix.Pread(fd, buf, 3100); err != nil || n != 500 {
		return "", fmt.Errorf("pread: %d %v", n, err)
	}

	// The I/O may straddle two intervals: add up the rows.
	var sum fileRow
	var problems Problems
	check := problems.Check
	for sum.Writes < 3 || sum.Reads < 1 {
		e, err := r.Await("a row of "+path, r.EventTimeout, nil, func(e Event) bool { _, ok := row(e); return ok })
		if err != nil {
			return "", fmt.Errorf("%v (so far: %d writes, %d reads)", err, sum.Writes, sum.Reads)
		}
		f, _ := row(e)
		check("pid", f.Pid, self)
		check("comm", f.Comm, h.Comm)
		sum.Writes += f.Writes
		sum.WBytes += f.WBytes
		sum.Reads += f.Reads
		sum.RBytes += f.RBytes
	}
	check("writes", sum.Writes, 3)
	check("wbytes", sum.WBytes, 3*len(data))
	check("reads", sum.Reads, 1)
	check("rbytes", sum.RBytes, 500)
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("counted 3 writes of %d bytes and a read of 500 bytes of a file", len(data)), nil
}
