package process

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tracers"
)

// fakeTask writes the /proc files readTask reads into a new directory.
func fakeTask(t *testing.T, comm string, flags string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"comm":   comm + "\n",
		"stat":   "42 (" + comm + ") I 2 0 0 0 -1 " + flags + " 0 0 0 0 0 0 0 0 0 0 1 0 0\n",
		"status": "Name:\t" + comm + "\nPPid:\t2\nUid:\t0\t0\t0\t0\nGid:\t5\t5\t5\t5\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// /proc shows kernel threads' full names; the kernel's comm, which the task
// iterator reports, is at most 15 bytes, without a workqueue worker's
// "+desc" or "-desc".
func TestTaskComm(t *testing.T) {
	const wq, kthread = "69238880", "2129984" // PF_WQ_WORKER|PF_KTHREAD|..., PF_KTHREAD|...
	for _, tc := range []struct{ proc, flags, want string }{
		{"bash", "4194560", "bash"},
		{"exactly15-bytes", "4194560", "exactly15-bytes"},
		{"rcu_exp_par_gp_kthread_worker/0", kthread, "rcu_exp_par_gp_"},
		{"kworker/0:0H-kblockd", wq, "kworker/0:0H"},
		{"kworker/u8:1+events_unbound", wq, "kworker/u8:1"},
		{"kworker/3:2", wq, "kworker/3:2"},
		{"kworker/R-mm_percpu_wq", wq, "kworker/R-mm_pe"},
		{"kworker/dying", wq, "kworker/dying"},
		// A process may call itself anything: only workqueue workers lose a suffix.
		{"kworker/x-y", "4194560", "kworker/x-y"},
		{"a) b (c", "4194560", "a) b (c"},
	} {
		p, ok := readTask(fakeTask(t, tc.proc, tc.flags))
		if !ok {
			t.Fatalf("%s: not read", tc.proc)
		}
		if p.Comm != tc.want {
			t.Errorf("/proc name %q (flags %s): comm %q, want %q", tc.proc, tc.flags, p.Comm, tc.want)
		}
		if p.Ppid != 2 || p.Uid != 0 || p.Gid != 5 {
			t.Errorf("%s: ppid/uid/gid %d/%d/%d, want 2/0/5", tc.proc, p.Ppid, p.Uid, p.Gid)
		}
	}
}

// Rows read from /proc are stamped with the moment of the snapshot, and
// carry the comm the kernel keeps.
func TestReadProcs(t *testing.T) {
	before := time.Now().UnixNano()
	procs := readProcs([]int{os.Getpid(), 1}, false, tracers.Filter{})
	after := time.Now().UnixNano()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	comm := strings.TrimSuffix(string(b), "\n")
	var found bool
	for _, p := range procs {
		if p.Timestamp < before || p.Timestamp > after {
			t.Errorf("pid %d: timestamp %v, not within the snapshot's [%v, %v]", p.Pid, time.Unix(0, p.Timestamp), time.Unix(0, before), time.Unix(0, after))
		}
		if len(p.Comm) > commMax {
			t.Errorf("pid %d: comm %q is longer than %d bytes", p.Pid, p.Comm, commMax)
		}
		if p.Pid == uint32(os.Getpid()) {
			found = true
			if p.Comm != comm || p.Tid != p.Pid || p.Ppid != uint32(os.Getppid()) {
				t.Errorf("this process: %+v, want comm %q tid %d ppid %d", p.Event, comm, p.Pid, os.Getppid())
			}
		}
	}
	if !found {
		t.Errorf("this process (%d) not among %d rows read from /proc", os.Getpid(), len(procs))
	}
}
