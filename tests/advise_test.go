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

// TestAdviseSeccompProfile: a docker and a podman container, recorded
// from their start, running a workload, get a profile each in
// --output-dir; a new container of the same runtime run with that profile
// (--security-opt seccomp=FILE) runs the same workload, and a system call
// the recording never saw (chroot, which the runtimes' own profiles
// allow) is refused with EPERM.
func TestAdviseSeccompProfile(t *testing.T) {
	runtimesUp(t)
	dir := t.TempDir()
	ig := startIG(t, "advise", "seccomp-profile", "--containers", "--output-dir", dir, "-o", "json", "-v")
	ig.waitVerboseAttached()
	kinds := []string{"docker", "podman"}
	recorded, pids := map[string]string{}, map[string]int{}
	exec1 := func(kind, name string, argv ...string) (string, error) {
		out, err := exec.Command("runtimes/run.sh", append([]string{"exec", kind, name}, argv...)...).CombinedOutput()
		return string(out), err
	}
	for _, kind := range kinds {
		recorded[kind], pids[kind] = container(t, kind)
		if out, err := exec1(kind, recorded[kind], "sh", "-c", seccompWorkload); err != nil || !strings.Contains(out, "recorded") {
			t.Fatalf("%s: the workload, recorded: %v: %s", kind, err, out)
		}
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	rows := eventsOf[seccompProfileRow](t, r.Stdout)
	for _, kind := range kinds {
		name := recorded[kind]
		row := findOne(t, rows, kind+"'s profile", func(p *seccompProfileRow) bool { return p.Runtime.ContainerName == name })
		want := filepath.Join(dir, name+".json")
		if row.File != want || row.Runtime.RuntimeName != kind || row.MountNsID != mountNsOf(t, pids[kind]) ||
			!slices.Contains(row.Syscalls, "execve") || !slices.Contains(row.Syscalls, "openat") || slices.Contains(row.Syscalls, "chroot") {
			t.Fatalf("%s's profile: file %q (want %q), %+v, syscalls %v", kind, row.File, want, row.commonEvent, row.Syscalls)
		}
		var profile struct {
			DefaultAction   string   `json:"defaultAction"`
			DefaultErrnoRet int      `json:"defaultErrnoRet"`
			Architectures   []string `json:"architectures"`
		}
		b, err := os.ReadFile(want)
		if err != nil || json.Unmarshal(b, &profile) != nil || profile.DefaultAction != "SCMP_ACT_ERRNO" || profile.DefaultErrnoRet != 1 ||
			!slices.Contains(profile.Architectures, "SCMP_ARCH_X86_64") {
			t.Fatalf("%s's profile file: %v %+v\n%s", kind, err, profile, b)
		}

		// Without a profile of ours chroot works in the container ...
		if out, err := exec1(kind, name, "chroot", "/", "true"); err != nil {
			t.Fatalf("%s: chroot under the runtime's own profile: %v: %s", kind, err, out)
		}
		// ... and under the recorded one, the workload does, chroot does not.
		confined, _ := containerWith(t, kind, "--security-opt seccomp="+want)
		if out, err := exec1(kind, confined, "sh", "-c", seccompWorkload); err != nil || !strings.Contains(out, "recorded") {
			t.Errorf("%s: the workload under its profile: %v: %s", kind, err, out)
		}
		out, err := exec1(kind, confined, "chroot", "/", "true")
		if err == nil || !strings.Contains(out, "Operation not permitted") {
			t.Errorf("%s: chroot under the profile: %v: %q, want EPERM", kind, err, out)
		}
	}
}
