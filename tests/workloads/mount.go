package workloads

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() { Table["trace mount"] = traceMount }

// mountEvent has the fields of trace mount the workload checks.
type mountEvent struct {
	Pid       int      `json:"pid"`
	Comm      string   `json:"comm"`
	Operation string   `json:"operation"`
	Ret       int      `json:"ret"`
	Error     string   `json:"error"`
	Fs        string   `json:"fs"`
	Source    string   `json:"source"`
	Target    string   `json:"target"`
	Data      string   `json:"data"`
	Flags     []string `json:"flags"`
	Fd        int      `json:"fd"`
	ToFd      int      `json:"toFd"`
	Attrs     []string `json:"attrs"`
	Latency   uint64   `json:"latency"`
}

// streamEvents decodes the -o json lines ig printed, once it has exited.
func streamEvents[T any](r *Run) ([]T, error) {
	var evs []T
	sc := bufio.NewScanner(bytes.NewReader(r.stdout.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var ev T
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("not a JSON event: %q", sc.Bytes())
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// trace mount, filtered to this process: a tmpfs mounted and unmounted with
// mount(2), a mount of an unknown type (ENODEV), and a tmpfs mounted with
// the new mount API, with mount_setattr where the kernel has it (5.12).
func traceMount(r *Run, h Host) (string, error) {
	self := os.Getpid()
	dir := "/tmp/ig-mount-" + r.Tag
	oldDir, newDir := dir+"/old", dir+"/new"
	for _, d := range []string{dir, oldDir, newDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", err
		}
	}
	defer func() {
		_ = unix.Unmount(oldDir, unix.MNT_DETACH)
		_ = unix.Unmount(newDir, unix.MNT_DETACH)
	}()
	if err := r.Start(true, "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	// Attached when the umount of a missing path (ENOENT) shows up.
	if _, err := r.Await("umount of a missing path", r.AttachTimeout, func() { _ = unix.Unmount(dir+"/missing", 0) },
		func(e Event) bool { return e.Pid == self && e.Error == "ENOENT" }); err != nil {
		return "", err
	}

	src, newSrc, bogus := "ig-old-"+r.Tag, "ig-new-"+r.Tag, "igbogus"
	if err := unix.Mount(src, oldDir, "tmpfs", unix.MS_NOSUID, "size=1m"); err != nil {
		return "", fmt.Errorf("mount: %v", err)
	}
	if err := unix.Unmount(oldDir, 0); err != nil {
		return "", fmt.Errorf("umount: %v", err)
	}
	if err := unix.Mount("none", oldDir, bogus, 0, ""); !errors.Is(err, syscall.ENODEV) {
		return "", fmt.Errorf("mount of type %s: %v, want ENODEV", bogus, err)
	}
	fsfd, err := unix.Fsopen("tmpfs", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return "", fmt.Errorf("fsopen: %v", err)
	}
	defer unix.Close(fsfd)
	if err := unix.FsconfigSetString(fsfd, "source", newSrc); err != nil {
		return "", fmt.Errorf("fsconfig: %v", err)
	}
	if err := unix.FsconfigCreate(fsfd); err != nil {
		return "", fmt.Errorf("fsconfig create: %v", err)
	}
	mfd, err := unix.Fsmount(fsfd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NODEV)
	if err != nil {
		return "", fmt.Errorf("fsmount: %v", err)
	}
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, newDir, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		unix.Close(mfd)
		return "", fmt.Errorf("move_mount: %v", err)
	}
	unix.Close(mfd)
	setattr := unix.MountSetattr(unix.AT_FDCWD, newDir, 0, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY})
	if setattr != nil && !errors.Is(setattr, syscall.ENOSYS) {
		return "", fmt.Errorf("mount_setattr: %v", setattr)
	}
	if err := unix.Unmount(newDir, unix.MNT_DETACH); err != nil {
		return "", fmt.Errorf("umount: %v", err)
	}
	// Everything is in when the umount of a directory that is no mount point (EINVAL) shows up.
	if _, err := r.Await("umount of a directory that is no mount point", r.EventTimeout, func() { _ = unix.Unmount(dir, 0) },
		func(e Event) bool { return e.Pid == self && e.Error == "EINVAL" }); err != nil {
		return "", err
	}
	if err := r.StopClean(); err != nil {
		return "", err
	}
	evs, err := streamEvents[mountEvent](r)
	if err != nil {
		return "", err
	}
	var problems []string
	expect := func(what string, match func(e *mountEvent) bool, check func(e *mountEvent) string) {
		for i := range evs {
			if match(&evs[i]) {
				e := &evs[i]
				if e.Pid != self || e.Comm != h.Comm || e.Latency == 0 {
					problems = append(problems, fmt.Sprintf("%s: pid %d comm %q latency %d, want %d %q >0", what, e.Pid, e.Comm, e.Latency, self, h.Comm))
				}
				if p := check(e); p != "" {
					problems = append(problems, what+": "+p)
				}
				return
			}
		}
		problems = append(problems, "no event for "+what)
	}
	want := func(cond bool, e *mountEvent) string {
		if cond {
			return ""
		}
		return fmt.Sprintf("got %+v", *e)
	}
	op := func(name string, more func(e *mountEvent) bool) func(e *mountEvent) bool {
		return func(e *mountEvent) bool { return e.Operation == name && more(e) }
	}
	expect("mount", op("mount", func(e *mountEvent) bool { return e.Source == src }), func(e *mountEvent) string {
		return want(e.Target == oldDir && e.Fs == "tmpfs" && e.Data == "size=1m" && slices.Equal(e.Flags, []string{"MS_NOSUID"}) && e.Ret == 0, e)
	})
	expect("umount", op("umount", func(e *mountEvent) bool { return e.Target == oldDir }), func(e *mountEvent) string {
		return want(e.Ret == 0 && e.Error == "", e)
	})
	expect("failed mount", op("mount", func(e *mountEvent) bool { return e.Fs == bogus }), func(e *mountEvent) string {
		return want(e.Ret == -int(syscall.ENODEV) && e.Error == "ENODEV" && e.Target == oldDir, e)
	})
	expect("fsopen", op("fsopen", func(*mountEvent) bool { return true }), func(e *mountEvent) string {
		return want(e.Fs == "tmpfs" && e.Ret == fsfd && slices.Equal(e.Flags, []string{"FSOPEN_CLOEXEC"}), e)
	})
	expect("fsconfig source", op("fsconfig", func(e *mountEvent) bool { return e.Source == newSrc }), func(e *mountEvent) string {
		return want(e.Fd == fsfd && e.Data == "source="+newSrc && e.Ret == 0, e)
	})
	expect("fsmount", op("fsmount", func(*mountEvent) bool { return true }), func(e *mountEvent) string {
		return want(e.Fd == fsfd && e.Ret == mfd && slices.Equal(e.Attrs, []string{"MOUNT_ATTR_NODEV"}), e)
	})
	expect("move_mount", op("move_mount", func(*mountEvent) bool { return true }), func(e *mountEvent) string {
		return want(e.Fd == mfd && e.ToFd == unix.AT_FDCWD && e.Target == newDir && e.Ret == 0, e)
	})
	detail := "caught mount and umount of a tmpfs, a mount failing with ENODEV, and fsopen, fsconfig, fsmount, move_mount"
	if setattr == nil {
		expect("mount_setattr", op("mount_setattr", func(*mountEvent) bool { return true }), func(e *mountEvent) string {
			return want(e.Target == newDir && slices.Equal(e.Attrs, []string{"MOUNT_ATTR_RDONLY"}) && e.Ret == 0, e)
		})
		detail += ", mount_setattr"
	} else if slices.ContainsFunc(evs, func(e mountEvent) bool { return e.Operation == "mount_setattr" }) {
		problems = append(problems, "an event for mount_setattr, which this kernel lacks (ENOSYS)")
	} else {
		detail += " (no mount_setattr: ENOSYS)"
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return detail, nil
}
