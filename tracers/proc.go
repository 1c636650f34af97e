package tracers

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcPIDs lists the processes in /proc.
func ProcPIDs() []int {
	dirs, _ := os.ReadDir("/proc")
	var pids []int
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ReadProcTask reads a task's comm, its ppid, uid and gid from its
// status file, its parent's comm, and its mount namespace, from its /proc directory dir
// (/proc/PID or /proc/PID/task/TID) into p; false when it is gone. A task
// whose namespace cannot be read (PID 1 in some sandboxes) has mntns 0.
func ReadProcTask(dir string, p *Event) bool {
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return false
	}
	p.Comm = taskComm(dir)
	for _, line := range strings.Split(string(status), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "PPid":
			p.Ppid = parseUint32(val)
		case "Uid":
			p.Uid = parseUint32(firstField(val))
		case "Gid":
			p.Gid = parseUint32(firstField(val))
		}
	}
	if p.Ppid != 0 {
		p.Pcomm = taskComm("/proc/" + strconv.FormatUint(uint64(p.Ppid), 10))
	}
	if link, err := os.Readlink(filepath.Join(dir, "ns/mnt")); err == nil {
		// "mnt:[4026531841]"
		p.MountNsID, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "mnt:["), "]"), 10, 64)
	}
	return true
}

// commMax is the length of a task's comm in the kernel (TASK_COMM_LEN
// without its NUL): what the task iterator and every event show.
const commMax = 15

// pfWQWorker is PF_WQ_WORKER, the flag of a workqueue's kernel threads.
const pfWQWorker = 0x20

// taskComm is the task's comm as the kernel keeps it. /proc shows more for
// kernel threads: their full name, of which the comm is the first 15 bytes
// ("rcu_tasks_kthread"), and, for workqueue workers, the comm followed by
// "+" or "-" and the workqueue last served ("kworker/0:1H-kblockd"; a
// rescuer, "kworker/R-…", has none while idle).
func taskComm(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "comm"))
	if err != nil {
		return ""
	}
	comm := strings.TrimSuffix(string(b), "\n")
	if strings.HasPrefix(comm, "kworker/") && !strings.HasPrefix(comm, "kworker/R-") && taskFlags(dir)&pfWQWorker != 0 {
		if i := strings.IndexAny(comm[len("kworker/"):], "+-"); i >= 0 {
			comm = comm[:len("kworker/")+i]
		}
	}
	if len(comm) > commMax {
		comm = comm[:commMax]
	}
	return comm
}

// taskFlags reads the task's flags (PF_*) from its stat file, 0 if it cannot.
func taskFlags(dir string) uint64 {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid pgrp session tty_nr tpgid flags ..."; the comm
	// may hold spaces and parentheses, so count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 7 {
		return 0
	}
	flags, _ := strconv.ParseUint(f[6], 10, 64)
	return flags
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func parseUint32(s string) uint32 {
	v, _ := strconv.ParseUint(s, 10, 32)
	return uint32(v)
}
