package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// seccompEvent is an audit seccomp event, as JSON.
type seccompEvent struct {
	commonEvent
	Syscall string `json:"syscall"`
	Code    string `json:"code"`
}

// seccompProfile writes a docker seccomp profile that allows everything
// but sync(2), which gets action.
func seccompProfile(t *testing.T, action string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), action+".json")
	profile := fmt.Sprintf(`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],`+
		`"syscalls":[{"names":["sync"],"action":%q}]}`, action)
	if err := os.WriteFile(path, []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditSeccomp: sync(2) in a docker container whose profile logs it
// (SCMP_ACT_LOG), and in one whose profile kills it (SCMP_ACT_KILL), each
// show with the container, sync's pid and comm, the syscall and the
// action; a killed process is attributed also when it is gone before ig
// reads its record.
func TestAuditSeccomp(t *testing.T) {
	runtimesUp(t)
	logged, loggedPid := containerWith(t, "docker", "--security-opt seccomp="+seccompProfile(t, "SCMP_ACT_LOG"))
	killed, killedPid := containerWith(t, "docker", "--security-opt seccomp="+seccompProfile(t, "SCMP_ACT_KILL"))
	ig := startIG(t, "audit", "seccomp", "-o", "json")
	for _, c := range []struct{ name, code string }{{logged, "log"}, {killed, "kill_thread"}} {
		ig.waitUntil(c.code+" in "+c.name, func() {
			// sync killed: sh goes on, and the exec succeeds.
			if out, err := exec.Command("runtimes/run.sh", "exec", "docker", c.name, "sh", "-c", "sync; true").CombinedOutput(); err != nil {
				t.Fatalf("exec in %s: %v: %s", c.name, err, out)
			}
		}, streamMatcher(func(e *seccompEvent) bool { return e.Runtime.ContainerName == c.name && e.Code == c.code }))
	}
	// A process killed while ig does not read (stopped) is gone, reaped,
	// when ig reads its record: its mount namespace is the one the kernel
	// saw it exit with.
	before := countOf(eventsOf[seccompEvent](t, ig.stdout.Bytes()), func(e *seccompEvent) bool { return e.Runtime.ContainerName == killed })
	ig.cmd.Process.Signal(syscall.SIGSTOP)
	out, err := exec.Command("runtimes/run.sh", "exec", "docker", killed, "sh", "-c", "sync; true").CombinedOutput()
	ig.cmd.Process.Signal(syscall.SIGCONT)
	if err != nil {
		t.Fatalf("exec in %s: %v: %s", killed, err, out)
	}
	ig.waitUntil("the record of a process gone", nil, func(stdout []byte) bool {
		return countOf(eventsOf[seccompEvent](t, stdout), func(e *seccompEvent) bool { return e.Runtime.ContainerName == killed }) > before
	})
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	mntns := map[string]uint64{logged: mountNsOf(t, loggedPid), killed: mountNsOf(t, killedPid)}
	for _, e := range eventsOf[seccompEvent](t, r.Stdout) {
		want, ours := map[string]string{logged: "log", killed: "kill_thread"}[e.Runtime.ContainerName]
		if !ours {
			continue
		}
		if e.Code != want || e.Syscall != "sync" || e.Comm != "sync" || e.Pid == 0 || e.MountNsID != mntns[e.Runtime.ContainerName] ||
			e.Runtime.RuntimeName != "docker" {
			t.Errorf("in %s: %+v, want sync's sync, %s", e.Runtime.ContainerName, e, want)
		}
	}
}
