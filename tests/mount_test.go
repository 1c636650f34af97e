package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// mountEvent is a trace mount event, as JSON.
type mountEvent struct {
	commonEvent
	Operation    string   `json:"operation"`
	Ret          int64    `json:"ret"`
	Err          int64    `json:"err"`
	Error        string   `json:"error"`
	Latency      uint64   `json:"latency"`
	Fs           string   `json:"fs"`
	Source       string   `json:"source"`
	Target       string   `json:"target"`
	Data         string   `json:"data"`
	Flags        []string `json:"flags"`
	FlagsRaw     uint64   `json:"flagsRaw"`
	Fd           int64    `json:"fd"`
	ToFd         int64    `json:"toFd"`
	Aux          int64    `json:"aux"`
	Attrs        []string `json:"attrs"`
	AttrsCleared []string `json:"attrsCleared"`
	Propagation  string   `json:"propagation"`
	Truncated    []string `json:"truncated"`
}

// mountProgs are trace mount's programs, as bpftool names them (from BTF: whole).
var mountProgs = []string{"enter_mount", "exit_mount", "enter_umount", "exit_umount", "enter_fsopen", "exit_fsopen",
	"enter_fsconfig", "exit_fsconfig", "enter_fsmount", "exit_fsmount", "enter_move_mount", "exit_move_mount",
	"enter_open_tree", "exit_open_tree", "enter_mount_setattr", "exit_mount_setattr"}

// waitMountMarker: an umount of a path that does not exist (ENOENT) shows
// up; ig is attached and has read every event before it.
func (p *proc) waitMountMarker(dir string) {
	p.t.Helper()
	path := filepath.Join(dir, unique("ig-mount-marker"))
	p.waitUntil("the umount of "+path, func() { _ = unix.Unmount(path, 0) },
		streamMatcher(func(ev *mountEvent) bool { return ev.Operation == "umount" && ev.Target == path }))
}

// mountStep is one call the test makes and the event ig must show for it.
type mountStep struct {
	name  string
	call  func() (int, error) // the call; its result (a descriptor, or 0)
	errno unix.Errno
	want  func(ret int) mountEvent // the event's own fields, for the call's result
}

// TestTraceMount mounts and unmounts a tmpfs with mount(2), fails a mount
// of an unknown file system type, then mounts a tmpfs with the new mount
// API from fsopen to move_mount (with mount_setattr and open_tree on the
// way), and checks every field of every event.
func TestTraceMount(t *testing.T) {
	igBinary(t)
	comm, pid := testComm(t), os.Getpid()
	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	for _, d := range []string{oldDir, newDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = unix.Unmount(oldDir, unix.MNT_DETACH)
		_ = unix.Unmount(newDir, unix.MNT_DETACH)
	})
	oldSrc, newSrc, bogus := unique("ig-old"), unique("ig-new"), "igbogus"+strconv.Itoa(pid)
	var fsfd, mfd, treefd int
	steps := []mountStep{
		{name: "mount", call: func() (int, error) {
			return 0, unix.Mount(oldSrc, oldDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700")
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "mount", Source: oldSrc, Target: oldDir, Fs: "tmpfs", Data: "size=1m,mode=0700",
				Flags: []string{"MS_NOSUID", "MS_NODEV"}, FlagsRaw: unix.MS_NOSUID | unix.MS_NODEV, Fd: -1, ToFd: -1}
		}},
		{name: "umount", call: func() (int, error) { return 0, unix.Unmount(oldDir, unix.MNT_DETACH) },
			want: func(int) mountEvent {
				return mountEvent{Operation: "umount", Target: oldDir, Flags: []string{"MNT_DETACH"}, FlagsRaw: unix.MNT_DETACH, Fd: -1, ToFd: -1}
			}},
		{name: "failed mount", errno: unix.ENODEV, call: func() (int, error) { return 0, unix.Mount("none", oldDir, bogus, 0, "") },
			want: func(int) mountEvent {
				return mountEvent{Operation: "mount", Source: "none", Target: oldDir, Fs: bogus, Flags: []string{}, Fd: -1, ToFd: -1}
			}},
		{name: "fsopen", call: func() (int, error) {
			var err error
			fsfd, err = unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
			return fsfd, err
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "fsopen", Fs: "tmpfs", Flags: []string{"FSOPEN_CLOEXEC"}, FlagsRaw: 1, Fd: -1, ToFd: -1}
		}},
		{name: "fsconfig size", call: func() (int, error) { return 0, unix.FsconfigSetString(fsfd, "size", "1m") },
			want: func(int) mountEvent {
				return mountEvent{Operation: "fsconfig", Data: "size=1m", Flags: []string{"FSCONFIG_SET_STRING"}, FlagsRaw: 1, Fd: int64(fsfd), ToFd: -1}
			}},
		{name: "fsconfig source", call: func() (int, error) { return 0, unix.FsconfigSetString(fsfd, "source", newSrc) },
			want: func(int) mountEvent {
				return mountEvent{Operation: "fsconfig", Source: newSrc, Data: "source=" + newSrc, Flags: []string{"FSCONFIG_SET_STRING"}, FlagsRaw: 1, Fd: int64(fsfd), ToFd: -1}
			}},
		{name: "fsconfig create", call: func() (int, error) { return 0, unix.FsconfigCreate(fsfd) },
			want: func(int) mountEvent {
				return mountEvent{Operation: "fsconfig", Flags: []string{"FSCONFIG_CMD_CREATE"}, FlagsRaw: 6, Fd: int64(fsfd), ToFd: -1}
			}},
		{name: "fsmount", call: func() (int, error) {
			var err error
			mfd, err = unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV)
			return mfd, err
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "fsmount", Flags: []string{"FSMOUNT_CLOEXEC"}, FlagsRaw: 1, Fd: int64(fsfd), ToFd: -1,
				Attrs: []string{"MOUNT_ATTR_NODEV"}}
		}},
		{name: "mount_setattr", call: func() (int, error) {
			return 0, unix.MountSetattr(mfd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{
				Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOEXEC, Attr_clr: unix.MOUNT_ATTR_NOSUID})
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "mount_setattr", Flags: []string{"AT_EMPTY_PATH"}, FlagsRaw: unix.AT_EMPTY_PATH, Fd: int64(mfd), ToFd: -1,
				Attrs: []string{"MOUNT_ATTR_RDONLY", "MOUNT_ATTR_NOEXEC"}, AttrsCleared: []string{"MOUNT_ATTR_NOSUID"}}
		}},
		{name: "move_mount", call: func() (int, error) {
			return 0, unix.MoveMount(mfd, "", unix.AT_FDCWD, newDir, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "move_mount", Target: newDir, Flags: []string{"MOVE_MOUNT_F_EMPTY_PATH"},
				FlagsRaw: unix.MOVE_MOUNT_F_EMPTY_PATH, Fd: int64(mfd), ToFd: unix.AT_FDCWD}
		}},
		{name: "open_tree", call: func() (int, error) {
			var err error
			treefd, err = unix.OpenTree(unix.AT_FDCWD, newDir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
			return treefd, err
		}, want: func(int) mountEvent {
			return mountEvent{Operation: "open_tree", Source: newDir, Flags: []string{"OPEN_TREE_CLONE", "OPEN_TREE_CLOEXEC", "AT_RECURSIVE"},
				FlagsRaw: unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC | unix.AT_RECURSIVE, Fd: unix.AT_FDCWD, ToFd: -1}
		}},
		{name: "umount new", call: func() (int, error) {
			// An open descriptor of the mount would keep it busy.
			for _, fd := range []int{fsfd, mfd, treefd} {
				unix.Close(fd)
			}
			return 0, unix.Unmount(newDir, 0)
		},
			want: func(int) mountEvent {
				return mountEvent{Operation: "umount", Target: newDir, Flags: []string{}, Fd: -1, ToFd: -1}
			}},
	}

	ig := startIG(t, "trace", "mount", "-o", "json", "--pid", strconv.Itoa(pid))
	ig.waitMountMarker(dir)
	from := time.Now()
	rets, tid := runMountSteps(t, steps)
	to := time.Now()
	ig.waitMountMarker(dir)
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	evs := eventsOf[mountEvent](t, r.Stdout)
	mntns := mountNsID(t)
	for i, s := range steps {
		want := s.want(rets[i])
		want.Ret = int64(rets[i])
		if s.errno != 0 {
			want.Ret, want.Err, want.Error = -int64(s.errno), int64(s.errno), unix.ErrnoName(s.errno)
		}
		if want.Attrs == nil {
			want.Attrs = []string{}
		}
		if want.AttrsCleared == nil {
			want.AttrsCleared = []string{}
		}
		if want.Flags == nil {
			want.Flags = []string{}
		}
		// One event per step: the operation and what it was given tell them apart.
		ev := findOne(t, evs, s.name, func(ev *mountEvent) bool {
			return ev.Operation == want.Operation && ev.Target == want.Target && ev.Source == want.Source &&
				ev.Data == want.Data && ev.Fs == want.Fs && slices.Equal(ev.Flags, want.Flags) && ev.Ret == want.Ret
		})
		if ev.Pid != int64(pid) || ev.Tid != int64(tid) || ev.Comm != comm || ev.MountNsID != mntns {
			t.Errorf("%s: pid/tid %d/%d comm %q mntns %d, want %d/%d %q %d", s.name, ev.Pid, ev.Tid, ev.Comm, ev.MountNsID, pid, tid, comm, mntns)
		}
		checkNear(t, s.name, ev.Timestamp, from, to)
		if ev.Latency == 0 || ev.Latency > uint64(to.Sub(from)) {
			t.Errorf("%s: latency %d ns, want more than 0 and at most the test's %d ns", s.name, ev.Latency, to.Sub(from))
		}
		got := ev
		got.commonEvent, got.Latency = commonEvent{}, 0
		if !sameMountEvent(got, want) {
			t.Errorf("%s:\n got  %+v\n want %+v", s.name, got, want)
		}
	}
}

// sameMountEvent compares two events, an empty slice equal to a nil one.
func sameMountEvent(a, b mountEvent) bool {
	for _, e := range []*mountEvent{&a, &b} {
		for _, s := range []*[]string{&e.Flags, &e.Attrs, &e.AttrsCleared, &e.Truncated} {
			if len(*s) == 0 {
				*s = nil
			}
		}
	}
	return reflect.DeepEqual(a, b)
}

// runMountSteps makes the calls on one locked OS thread, failing the test on
// an unexpected result; it returns each call's result and the thread's id.
func runMountSteps(t *testing.T, steps []mountStep) ([]int, int) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rets []int
	for _, s := range steps {
		ret, err := s.call()
		if s.errno != 0 {
			if err != s.errno {
				t.Fatalf("%s: %v, want %v", s.name, err, s.errno)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		rets = append(rets, ret)
	}
	return rets, unix.Gettid()
}

// TestTraceMountColumns: the default columns are IG's, with the call as
// strace shows it.
func TestTraceMountColumns(t *testing.T) {
	igBinary(t)
	dir := t.TempDir()
	bogus := "igbogus" + strconv.Itoa(os.Getpid())
	ig := startIG(t, "trace", "mount", "--pid", strconv.Itoa(os.Getpid()))
	marker := filepath.Join(dir, unique("ig-mount-marker"))
	ig.waitUntil("the umount of "+marker, func() { _ = unix.Unmount(marker, 0) },
		func(out []byte) bool { return strings.Contains(string(out), strconv.Quote(marker)) })
	if err := unix.Mount("none", dir, bogus, unix.MS_RDONLY, "a=b"); err != unix.ENODEV {
		t.Fatalf("mount of %s: %v, want ENODEV", bogus, err)
	}
	want := `mount("none", "` + dir + `", "` + bogus + `", MS_RDONLY, "a=b") = -19 ENODEV`
	ig.waitUntil("the failed mount", nil, func(out []byte) bool { return strings.Contains(string(out), want) })
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	lines := completeLines(r.Stdout)
	if h := strings.Fields(lines[0]); !slices.Equal(h, []string{"CONTAINER", "PID", "TID", "COMM", "CALL"}) {
		t.Errorf("header %q, want CONTAINER PID TID COMM CALL", lines[0])
	}
	pid, comm := strconv.Itoa(os.Getpid()), testComm(t)
	for _, l := range lines[1:] {
		if strings.Contains(l, want) {
			if f := strings.Fields(l); len(f) < 3 || f[0] != pid || f[1] == "" || f[2] != comm {
				t.Errorf("row %q: want pid %s, a tid and comm %s before the call", l, pid, comm)
			}
			return
		}
	}
	t.Errorf("no row with %s in:\n%s", want, r.Stdout)
}

// TestTraceMountContainer: under -c, mounts in a container's mount
// namespace show with the container's name, the host's umount does not.
// Docker's default seccomp profile refuses mount(2) before the syscall
// tracepoint sees it, so in a docker container the mount is made by a host
// process that enters the container's mount namespace (as nsenter -m does;
// it succeeds), and the unprivileged attempt from inside a container, which
// fails with EPERM, is made in a containerd container (ctr run applies no
// seccomp profile).
func TestTraceMountContainer(t *testing.T) {
	runtimesUp(t)
	nsenter := requireTool(t, "nsenter")
	for _, c := range []struct {
		kind string
		ret  int64
		err  string
	}{{"docker", 0, ""}, {"containerd", -1, "EPERM"}} {
		t.Run(c.kind, func(t *testing.T) {
			name, ctrPid := container(t, c.kind)
			var sources []string // one per try: ig misses those before it is attached
			tryMount := func() {
				src := unique("ig-ctr")
				sources = append(sources, src)
				if c.kind == "docker" {
					_ = exec.Command(nsenter, "-m", "-t", strconv.Itoa(ctrPid), "mount", "-t", "tmpfs", src, "/tmp").Run()
					_ = exec.Command(nsenter, "-m", "-t", strconv.Itoa(ctrPid), "umount", "/tmp").Run()
					return
				}
				// busybox mount fails (EPERM) and says so: its exit status is no news.
				_ = exec.Command("runtimes/run.sh", "exec", c.kind, name, "mount", "-t", "tmpfs", src, "/tmp").Run()
			}
			tried := func(ev *mountEvent) bool { return slices.Contains(sources, ev.Source) }
			ig := startIG(t, "trace", "mount", "-o", "json", "-c", name)
			ig.waitUntil("the container's mount", tryMount, streamMatcher(tried))
			hostPath := filepath.Join(t.TempDir(), unique("ig-host"))
			_ = unix.Unmount(hostPath, 0) // not the container's: filtered out
			sources = nil
			ig.waitUntil("the container's mount after the host's umount", tryMount, streamMatcher(tried))
			r := ig.stop(sigINT)
			checkSuccess(t, r)

			evs := eventsOf[mountEvent](t, r.Stdout)
			if countOf(evs, tried) == 0 {
				t.Fatalf("no event for the container's last mounts %q", sources)
			}
			for _, ev := range evs {
				if !tried(&ev) {
					continue
				}
				if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != c.kind || ev.Comm != "mount" {
					t.Errorf("container %q runtime %q comm %q, want %q %s mount", ev.Runtime.ContainerName, ev.Runtime.RuntimeName, ev.Comm, name, c.kind)
				}
				if ev.MountNsID != mountNsOf(t, ctrPid) {
					t.Errorf("mountnsid %d, want the container's %d", ev.MountNsID, mountNsOf(t, ctrPid))
				}
				if ev.Operation != "mount" || ev.Target != "/tmp" || ev.Fs != "tmpfs" || ev.Ret != c.ret || ev.Error != c.err {
					t.Errorf("got %+v, want a mount of tmpfs on /tmp with ret %d error %q", ev, c.ret, c.err)
				}
			}
			for _, ev := range evs {
				if ev.Runtime.ContainerName != name || ev.Target == hostPath {
					t.Errorf("-c %s let through an event of %q: %+v", name, ev.Runtime.ContainerName, ev)
				}
			}
		})
	}
}

// TestTraceMountLifecycle: trace mount's programs are attached while it
// runs, and none remains after it exits.
func TestTraceMountLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	dir := t.TempDir()
	checkLifecycle(t, lifecycleGadget{"trace mount SIGINT", []string{"trace", "mount", "-o", "json", "--pid", strconv.Itoa(os.Getpid())},
		mountProgs, func(p *proc) { p.waitMountMarker(dir) }, sigINT})
}

// TestTraceMountKernelFilter: -c filters in the kernel (ig_skip_current at
// syscall entry): with many host umounts going on, ig receives about as
// many events as the container's mounts.
func TestTraceMountKernelFilter(t *testing.T) {
	runtimesUp(t)
	nsenter := requireTool(t, "nsenter")
	name, ctrPid := container(t, "docker")
	missing := missingPath(t)
	checkKernelFilter(t, kernelFilterCase{name: "trace mount -c", args: []string{"trace", "mount", "-c", name},
		mark: func(t *testing.T, marker string) {
			// Into the container's mount namespace: docker's seccomp profile refuses mount(2) inside.
			_ = exec.Command(nsenter, "-m", "-t", strconv.Itoa(ctrPid), "mount", "-t", "tmpfs", marker, "/tmp").Run()
			_ = exec.Command(nsenter, "-m", "-t", strconv.Itoa(ctrPid), "umount", "/tmp").Run()
		},
		seen: func(marker string) func([]byte) bool {
			return streamMatcher(func(ev *mountEvent) bool { return ev.Source == marker })
		},
		only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
		load: func(n int) {
			for i := 0; i < n; i++ {
				_ = unix.Unmount(missing, 0)
			}
		},
		loadN: 50000, slack: 1000})
}
