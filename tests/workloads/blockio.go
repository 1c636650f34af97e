package workloads

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func init() {
	Table["top block-io"] = topBlockIO
	Table["profile block-io"] = profileBlockIO
}

// ScratchSerial is the serial of the disk the kernel guests get for these
// workloads (tests/kernels/run.sh): theirs to overwrite.
const ScratchSerial = "ig-scratch"

// blockTarget is where a workload writes with O_DIRECT: the guest's
// scratch disk itself, or else a file on a disk-backed filesystem
// (never a disk of the host's).
type blockTarget struct {
	path         string
	file         bool   // a file to create and remove, not a device
	disk         string // the disk's name, as the kernel gives it (nvme0n1, vda)
	major, minor uint32 // the disk's
}

func findBlockTarget(tag string) (blockTarget, error) {
	disks, _ := filepath.Glob("/sys/block/*")
	for _, d := range disks {
		serial, err := os.ReadFile(filepath.Join(d, "device", "serial"))
		if err != nil || strings.TrimSpace(string(serial)) != ScratchSerial {
			continue
		}
		name := filepath.Base(d)
		var st unix.Stat_t
		if err := unix.Stat("/dev/"+name, &st); err != nil {
			return blockTarget{}, fmt.Errorf("the scratch disk %s: %v", name, err)
		}
		return blockTarget{path: "/dev/" + name, disk: name, major: unix.Major(st.Rdev), minor: unix.Minor(st.Rdev)}, nil
	}
	var tried []string
	for _, dir := range []string{"/var/tmp", os.TempDir()} {
		var st unix.Stat_t
		if err := unix.Stat(dir, &st); err != nil {
			continue
		}
		devt := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
		sys, err := filepath.EvalSymlinks("/sys/dev/block/" + devt)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s is on %s, no block device", dir, devt))
			continue
		}
		if _, err := os.Stat(filepath.Join(sys, "partition")); err == nil {
			sys = filepath.Dir(sys) // the rows are the disk's
		}
		var major, minor uint32
		b, err := os.ReadFile(filepath.Join(sys, "dev"))
		if _, serr := fmt.Sscanf(string(b), "%d:%d", &major, &minor); err != nil || serr != nil {
			return blockTarget{}, fmt.Errorf("the disk of %s (%s): %v %v", dir, sys, err, serr)
		}
		return blockTarget{path: filepath.Join(dir, "ig-blockio-"+tag), file: true, disk: filepath.Base(sys), major: major, minor: minor}, nil
	}
	return blockTarget{}, fmt.Errorf("no block device to write to: no disk with serial %q (the kernel guests' scratch disk) and %s",
		ScratchSerial, strings.Join(tried, ", "))
}

// blockWriter writes 4 KiB blocks with O_DIRECT: each one request at the
// device, issued by this process.
type blockWriter struct {
	fd  int
	buf []byte // page-aligned, as O_DIRECT wants
	off int64
	t   blockTarget
}

const blockSize = 4096

func openBlockWriter(t blockTarget) (*blockWriter, error) {
	flags := unix.O_WRONLY | unix.O_DIRECT | unix.O_CLOEXEC
	if t.file {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := unix.Open(t.path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s with O_DIRECT: %v", t.path, err)
	}
	buf, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	copy(buf, "ig block-io workload")
	return &blockWriter{fd: fd, buf: buf, t: t}, nil
}

// write writes n blocks, one request each (the file's or the scratch
// disk's first MiB over and over).
func (w *blockWriter) write(n int) error {
	for i := 0; i < n; i++ {
		if _, err := unix.Pwrite(w.fd, w.buf, w.off); err != nil {
			return fmt.Errorf("O_DIRECT write to %s: %v", w.t.path, err)
		}
		w.off = (w.off + blockSize) % (1 << 20)
	}
	return nil
}

func (w *blockWriter) close() {
	unix.Close(w.fd)
	_ = unix.Munmap(w.buf)
	if w.t.file {
		os.Remove(w.t.path)
	}
}

// blockRow is what top block-io shows of one process's I/O on one device.
type blockRow struct {
	Pid   int    `json:"pid"`
	Comm  string `json:"comm"`
	Write bool   `json:"write"`
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Bytes uint64 `json:"bytes"`
	Us    uint64 `json:"us"`
	Ops   uint64 `json:"ops"`
}

// top block-io, filtered to this process: its O_DIRECT writes of 4 KiB
// blocks, as writes on the disk, in bytes and requests.
func topBlockIO(r *Run, h Host) (string, error) {
	target, err := findBlockTarget(r.Tag)
	if err != nil {
		return "", err
	}
	w, err := openBlockWriter(target)
	if err != nil {
		return "", err
	}
	defer w.close()
	self := os.Getpid()
	if err := r.Start(true, "--interval", "1", "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	ours := func(e Event) (blockRow, bool) {
		var row blockRow
		return row, e.DecodeRaw(&row) == nil && row.Pid == self && row.Write
	}
	var werr error
	if _, err := r.Await("a row of this process's writes", r.AttachTimeout, func() {
		if werr == nil {
			werr = w.write(1)
		}
	}, func(e Event) bool { _, ok := ours(e); return ok }); err != nil {
		return "", errors.Join(err, werr)
	}
	// Rows of the attach writes may still come: count from an interval on.
	const n = 32
	if err := w.write(n); err != nil {
		return "", err
	}
	var problems Problems
	var bytes, ops uint64
	for bytes < n*blockSize {
		e, err := r.Await(fmt.Sprintf("rows of %d bytes written (%d so far)", n*blockSize, bytes), r.EventTimeout, nil,
			func(e Event) bool { _, ok := ours(e); return ok })
		if err != nil {
			return "", err
		}
		row, _ := ours(e)
		bytes += row.Bytes
		ops += row.Ops
		problems.Check("comm", row.Comm, h.Comm)
		problems.Check("device", fmt.Sprintf("%d:%d", row.Major, row.Minor), fmt.Sprintf("%d:%d", target.major, target.minor))
		if row.Ops == 0 || row.Bytes != row.Ops*blockSize {
			problems = append(problems, fmt.Sprintf("a row of %d bytes in %d requests, want 4096 bytes a request", row.Bytes, row.Ops))
		}
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught %d O_DIRECT writes of 4 KiB to %s (%d:%d) as this process's", ops, target.disk, target.major, target.minor), nil
}

// blockReport is a profile block-io report.
type blockReport struct {
	Disk      string `json:"disk"`
	Unit      string `json:"unit"`
	Intervals []struct {
		Count uint64 `json:"count"`
	} `json:"intervals"`
}

// profile block-io --per-disk, filtered to this process: its O_DIRECT
// writes counted in the histogram of the disk written to.
func profileBlockIO(r *Run, h Host) (string, error) {
	target, err := findBlockTarget(r.Tag)
	if err != nil {
		return "", err
	}
	w, err := openBlockWriter(target)
	if err != nil {
		return "", err
	}
	defer w.close()
	if err := r.Start(true, "--interval", "1", "--per-disk", "--pid", strconv.Itoa(os.Getpid())); err != nil {
		return "", err
	}
	var problems Problems
	counted := func(e Event) uint64 {
		var rep blockReport
		if err := e.DecodeRaw(&rep); err != nil {
			problems = append(problems, fmt.Sprintf("not a report: %v", err))
			return 0
		}
		problems.Check("disk", rep.Disk, target.disk)
		problems.Check("unit", rep.Unit, "us")
		var n uint64
		for _, iv := range rep.Intervals {
			n += iv.Count
		}
		return n
	}
	var werr error
	if _, err := r.Await("a report that counted this process's writes", r.AttachTimeout, func() {
		if werr == nil {
			werr = w.write(1)
		}
	}, func(e Event) bool { return counted(e) > 0 }); err != nil {
		return "", errors.Join(err, werr)
	}
	const n = 32
	if err := w.write(n); err != nil {
		return "", err
	}
	var total uint64
	for total < n {
		e, err := r.Await(fmt.Sprintf("reports counting %d writes (%d so far)", n, total), r.EventTimeout, nil, func(Event) bool { return true })
		if err != nil {
			return "", err
		}
		total += counted(e)
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("counted %d O_DIRECT writes of 4 KiB in %s's latency histogram", total, target.disk), nil
}
