package tracers

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeTask writes the /proc files ReadProcTask reads into a new directory.
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
		var p Event
		if !ReadProcTask(fakeTask(t, tc.proc, tc.flags), &p) {
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
