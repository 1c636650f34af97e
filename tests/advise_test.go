package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// seccompProfileRow is an advise seccomp-profile row, as JSON.
type seccompProfileRow struct {
	commonEvent
	Syscalls []string        `json:"syscalls"`
	File     string          `json:"file"`
	Profile  json.RawMessage `json:"profile"`
}

// seccompWorkload is what the recorded container does, and then the
// container under the profile: it must succeed there too.
const seccompWorkload = "echo recorded > /tmp/f && cat /tmp/f && ls / >/dev/null"

// TestAdviseSeccompProfile: a docker container recorded from its start,
// running a workload, gets a profile in --output-dir; a new container
// run with that profile (docker run --security-opt seccomp=FILE) runs the
// same workload, and a system call the recording never saw (chroot,
// which docker's own profile allows) is refused with EPERM.
func TestAdviseSeccompProfile(t *testing.T) {
	runtimesUp(t)
	dir := t.TempDir()
	ig := startIG(t, "advise", "seccomp-profile", "--containers", "--output-dir", dir, "-o", "json", "-v")
	ig.waitVerboseAttached()
	recorded, pid := container(t, "docker")
	exec1 := func(name string, argv ...string) (string, error) {
		out, err := exec.Command("runtimes/run.sh", append([]string{"exec", "docker", name}, argv...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := exec1(recorded, "sh", "-c", seccompWorkload); err != nil || !strings.Contains(out, "recorded") {
		t.Fatalf("the workload, recorded: %v: %s", err, out)
	}
	if out, err := exec1(recorded, "sh", "-c", "true"); err != nil {
		t.Fatalf("sh -c true: %v: %s", err, out)
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	rows := eventsOf[seccompProfileRow](t, r.Stdout)
	if len(rows) == 0 {
		t.Logf("stderr: %s", r.Stderr)
	}
	row := findOne(t, rows, "the recorded container's profile", func(p *seccompProfileRow) bool { return p.Runtime.ContainerName == recorded })
	want := filepath.Join(dir, recorded+".json")
	if row.File != want || row.Runtime.RuntimeName != "docker" || row.MountNsID != mountNsOf(t, pid) ||
		!slices.Contains(row.Syscalls, "execve") || !slices.Contains(row.Syscalls, "openat") || slices.Contains(row.Syscalls, "chroot") {
		t.Fatalf("the profile: file %q (want %q), %+v, syscalls %v", row.File, want, row.commonEvent, row.Syscalls)
	}
	var profile struct {
		DefaultAction   string   `json:"defaultAction"`
		DefaultErrnoRet int      `json:"defaultErrnoRet"`
		Architectures   []string `json:"architectures"`
	}
	b, err := os.ReadFile(want)
	if err != nil || json.Unmarshal(b, &profile) != nil || profile.DefaultAction != "SCMP_ACT_ERRNO" || profile.DefaultErrnoRet != 1 ||
		!slices.Contains(profile.Architectures, "SCMP_ARCH_X86_64") {
		t.Fatalf("the profile file: %v %+v\n%s", err, profile, b)
	}

	// Without a profile of ours chroot works in a docker container ...
	if out, err := exec1(recorded, "chroot", "/", "true"); err != nil {
		t.Fatalf("chroot in a container under docker's own profile: %v: %s", err, out)
	}
	// ... and under the recorded one, the workload does, chroot does not.
	confined, _ := containerWith(t, "docker", "--security-opt seccomp="+want)
	if out, err := exec1(confined, "sh", "-c", seccompWorkload); err != nil || !strings.Contains(out, "recorded") {
		t.Errorf("the workload under its profile: %v: %s", err, out)
	}
	out, err := exec1(confined, "chroot", "/", "true")
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("chroot under the profile: %v: %q, want EPERM", err, out)
	}
}
