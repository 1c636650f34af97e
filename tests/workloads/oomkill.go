package workloads

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() { Table["trace oomkill"] = traceOomkill }

// MemCgroup is a memory cgroup made for a test, with a limit: cgroup v1's
// memory hierarchy where the host has one, else cgroup v2 (mounted on
// /sys/fs/cgroup when nothing is, as in the kernel guests).
type MemCgroup struct{ Dir string }

// NewMemCgroup makes cgroup name with a limit of limit bytes and no swap.
func NewMemCgroup(name string, limit int64) (*MemCgroup, error) {
	write := func(dir, file, v string) error {
		return os.WriteFile(filepath.Join(dir, file), []byte(v), 0o644)
	}
	n := strconv.FormatInt(limit, 10)
	if v1 := "/sys/fs/cgroup/memory"; exists(filepath.Join(v1, "memory.limit_in_bytes")) {
		dir := filepath.Join(v1, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		c := &MemCgroup{Dir: dir}
		if err := write(dir, "memory.limit_in_bytes", n); err != nil {
			c.Close()
			return nil, err
		}
		_ = write(dir, "memory.memsw.limit_in_bytes", n) // without swap accounting, there is no file
		return c, nil
	}
	root := "/sys/fs/cgroup"
	if !exists(filepath.Join(root, "cgroup.controllers")) {
		if err := unix.Mount("cgroup2", root, "cgroup2", 0, ""); err != nil {
			return nil, fmt.Errorf("mount cgroup2 on %s: %w", root, err)
		}
	}
	if err := write(root, "cgroup.subtree_control", "+memory"); err != nil {
		return nil, fmt.Errorf("enable the memory controller: %w", err)
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	c := &MemCgroup{Dir: dir}
	if err := write(dir, "memory.max", n); err != nil {
		c.Close()
		return nil, err
	}
	_ = write(dir, "memory.swap.max", "0") // no file without swap support
	return c, nil
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// Add moves process pid into the cgroup.
func (c *MemCgroup) Add(pid int) error {
	return os.WriteFile(filepath.Join(c.Dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
}

// Close removes the cgroup, once the processes killed in it are gone.
func (c *MemCgroup) Close() error {
	var err error
	for i := 0; i < 50; i++ {
		if err = os.Remove(c.Dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// StartInCgroup starts argv (through busybox's sh, which waits for a line
// on its stdin before it execs argv) and moves it into c before argv runs:
// all of argv's memory is charged to c.
func StartInCgroup(c *MemCgroup, busybox string, argv ...string) (*exec.Cmd, error) {
	cmd := exec.Command(busybox, "sh", "-c", `read x; exec "$@"`, "sh")
	cmd.Args = append(cmd.Args, argv...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := c.Add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	_, err = in.Write([]byte("\n"))
	in.Close()
	return cmd, err
}

// oomkillFields are trace oomkill's own fields.
type oomkillFields struct {
	Kpid       int    `json:"kpid"`
	Kcomm      string `json:"kcomm"`
	Pages      uint64 `json:"pages"`
	Tpid       int    `json:"tpid"`
	Tcomm      string `json:"tcomm"`
	MemcgLimit int64  `json:"memcgLimit"`
}

// trace oomkill: busybox dd reads 64 MiB at once in a memory cgroup of
// 32 MiB, and the OOM killer kills it (it is the victim and the trigger);
// with the variant ig picks, then with the tracepoint variant, which ig
// picks nowhere mark_victim passes the victim's task.
func traceOomkill(r *Run, h Host) (string, error) {
	const limit = 32 << 20
	cg, err := NewMemCgroup("ig-oom-"+r.Tag, limit)
	if err != nil {
		return "", err
	}
	defer cg.Close()
	detail, err := oomkillOnce(r, h, cg, limit)
	if err != nil {
		return "", err
	}
	tp := &Run{IG: r.IG, Gadget: r.Gadget, Args: append(append([]string{}, r.Args...), "--variant", "tracepoint"), Tag: r.Tag + "-tp",
		AttachTimeout: r.AttachTimeout, EventTimeout: r.EventTimeout, StopTimeout: r.StopTimeout}
	tpDetail, err := oomkillOnce(tp, h, cg, limit)
	if tp.Started() {
		tp.Stop()
	}
	if err != nil {
		return "", fmt.Errorf("--variant tracepoint: %w; ig's stderr: %s", err, strings.Join(strings.Fields(tp.Stderr()), " "))
	}
	return detail + "; --variant tracepoint: " + tpDetail, nil
}

// oomkillOnce runs ig (r) while dd is killed in cg.
func oomkillOnce(r *Run, h Host, cg *MemCgroup, limit int64) (string, error) {
	if err := r.Start(true); err != nil {
		return "", err
	}
	// Each try is an OOM kill; the first ig catches proves it attached.
	victims := map[int]bool{}
	var failed error
	fields := func(e Event) oomkillFields {
		var f oomkillFields
		_ = json.Unmarshal(e.Raw, &f)
		return f
	}
	e, err := r.Await("an OOM kill in the cgroup", r.AttachTimeout, func() {
		cmd, err := StartInCgroup(cg, h.Busybox, h.Busybox, "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1")
		if err != nil {
			failed = err
			return
		}
		victims[cmd.Process.Pid] = true
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			failed = fmt.Errorf("dd of 64 MiB in a cgroup of 32 MiB: %v, want it killed", err)
		}
	}, func(e Event) bool { return victims[fields(e).Kpid] })
	if failed != nil {
		return "", failed
	}
	if err != nil {
		return "", err
	}
	var problems Problems
	check := problems.Check
	f := fields(e)
	check("pid", e.Pid, f.Kpid)
	check("comm", e.Comm, "busybox")
	check("kcomm", f.Kcomm, "busybox")
	check("tpid (dd ran the OOM killer)", f.Tpid, f.Kpid)
	check("tcomm", f.Tcomm, "busybox")
	check("memcgLimit", f.MemcgLimit, limit)
	// The victim's RSS came with the change that made mark_victim pass
	// its task (6.8, backported by some): without it, the tracepoint
	// variant has no pages to give.
	pages := fmt.Sprintf("pages %d", f.Pages)
	if format, err := os.ReadFile("/sys/kernel/tracing/events/oom/mark_victim/format"); err == nil && !strings.Contains(string(format), "anon_rss") {
		check("pages (mark_victim has no anon_rss here)", f.Pages, uint64(0))
	} else if f.Pages == 0 {
		problems = append(problems, "pages 0, want the victim's resident pages")
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught the OOM kill of busybox dd in a %d MiB memory cgroup, %s", limit>>20, pages), nil
}
