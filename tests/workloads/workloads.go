// Package workloads is, for each gadget ig implements, what makes it catch an
// event and what that event must say. The kernel guests (tests/kernels/guest)
// and the integration tests (tests/) run this one table, so a new gadget adds
// its workload once, here.
package workloads

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tests/syncbuf"
)

// Table: for each gadget, its workload. An implemented gadget without one
// fails in the guests and in TestWorkloads.
var Table = map[string]func(*Run, Host) (string, error){
	"trace open":       traceOpen,
	"trace exec":       traceExec,
	"snapshot process": snapshotProcess,
}

// Problems collects what a workload found wrong, so that one run reports
// all of it.
type Problems []string

// Check notes a value that is not the one wanted.
func (p *Problems) Check(what string, got, want any) {
	if got != want {
		*p = append(*p, fmt.Sprintf("%s: got %v, want %v", what, got, want))
	}
}

// Host is what differs between the machines the workloads run on.
type Host struct {
	Comm    string // this process's comm
	Busybox string // busybox's path, as the kernel resolves it (no symlink)
}

// Run is one run of ig for one gadget.
type Run struct {
	IG     string   // the ig binary
	Gadget string   // "trace open"
	Args   []string // added after the gadget and -o json (-v, --btf-sources ...)
	Tag    string   // unique to this run, for file names and arguments

	AttachTimeout, EventTimeout, StopTimeout time.Duration

	cmd    *exec.Cmd
	events chan Event
	stdout bytes.Buffer // everything ig printed on stdout (snapshots)
	stderr syncbuf.Buffer
	exited chan struct{}
	err    error // cmd.Wait's result, once exited is closed
	Seen   int   // events received
}

// Event has the fields the workloads check; JSON names are ig's.
type Event struct {
	Pid     int      `json:"pid"`
	Tid     int      `json:"tid"`
	Ppid    int      `json:"ppid"`
	Comm    string   `json:"comm"`
	Pcomm   string   `json:"pcomm"`
	Fd      int      `json:"fd"`
	Ret     int      `json:"ret"`
	Err     int      `json:"err"`
	Error   string   `json:"error"`
	Path    string   `json:"path"`
	Args    []string `json:"args"`
	Exepath string   `json:"exepath"`
	// Raw is the whole JSON line: a gadget's workload decodes its own
	// fields from it (DecodeRaw) rather than adding them all here.
	Raw json.RawMessage `json:"-"`
}

// DecodeRaw decodes the event's whole JSON line into v.
func (e Event) DecodeRaw(v any) error { return json.Unmarshal(e.Raw, v) }

// Started says whether ig was started.
func (r *Run) Started() bool { return r.cmd != nil }

// Stderr is what ig printed on stderr so far.
func (r *Run) Stderr() string { return r.stderr.String() }

// Err is how ig ended (cmd.Wait), once it has.
func (r *Run) Err() error { return r.err }

// Start runs ig with the gadget, -o json, r.Args, then args.
func (r *Run) Start(streaming bool, args ...string) error {
	argv := append(append(strings.Fields(r.Gadget), "-o", "json"), r.Args...)
	argv = append(argv, args...)
	r.cmd = exec.Command(r.IG, argv...)
	r.cmd.Stderr = &r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	r.events = make(chan Event, 4096)
	r.exited = make(chan struct{})
	if err := r.cmd.Start(); err != nil {
		return err
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Bytes()
			r.stdout.Write(line)
			r.stdout.WriteByte('\n')
			if !streaming {
				continue
			}
			// A top gadget prints a JSON array of rows every interval:
			// each row is an event.
			objs := []json.RawMessage{line}
			if len(line) > 0 && line[0] == '[' {
				if err := json.Unmarshal(line, &objs); err != nil {
					r.stderr.WriteString(fmt.Sprintf("workloads: not a JSON array on ig's stdout: %q\n", line))
					continue
				}
			}
			for _, obj := range objs {
				var e Event
				if err := json.Unmarshal(obj, &e); err != nil {
					r.stderr.WriteString(fmt.Sprintf("workloads: not a JSON event on ig's stdout: %q\n", obj))
					continue
				}
				e.Raw = append(json.RawMessage(nil), obj...)
				r.events <- e
			}
		}
		r.err = r.cmd.Wait()
		close(r.events)
		close(r.exited)
	}()
	return nil
}

// WaitEnd waits up to within for ig to end by itself: an error when it
// did not, or ended with one (its stderr included).
func (r *Run) WaitEnd(within time.Duration) error {
	select {
	case <-r.exited:
	case <-time.After(within):
		return fmt.Errorf("ig %s did not end within %s", r.Gadget, within)
	}
	if r.err != nil {
		return fmt.Errorf("ig %s: %v: %s", r.Gadget, r.err, r.Stderr())
	}
	return nil
}

func (r *Run) HasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// Await reads events until one satisfies want, calling trigger (if any) every 250 ms.
func (r *Run) Await(what string, timeout time.Duration, trigger func(), want func(Event) bool) (Event, error) {
	deadline := time.After(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	if trigger != nil {
		trigger()
	}
	for {
		select {
		case e, ok := <-r.events:
			if !ok {
				return Event{}, fmt.Errorf("ig exited (%v) before %s", r.err, what)
			}
			r.Seen++
			if want(e) {
				return e, nil
			}
		case <-tick.C:
			if trigger != nil {
				trigger()
			}
		case <-deadline:
			return Event{}, fmt.Errorf("no %s within %s", what, timeout)
		}
	}
}

// Stop ends ig with SIGTERM, as a user would, and reports an unclean exit on stderr.
func (r *Run) Stop() {
	if !r.HasExited() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-r.exited:
	case <-time.After(r.StopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// StopClean stops ig and fails unless it exited 0.
func (r *Run) StopClean() error {
	r.Stop()
	if r.err != nil {
		return fmt.Errorf("ig did not exit cleanly after SIGTERM: %v", r.err)
	}
	return nil
}

// parentComm is the comm of this process's parent (its main thread's,
// which forked this single-threaded guest or test).
func parentComm() string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(os.Getppid()) + "/comm")
	return strings.TrimSpace(string(b))
}

// trace open, filtered to this process: a file that exists and one that does not.
func traceOpen(r *Run, h Host) (string, error) {
	self := os.Getpid()
	marker := "/tmp/ig-open-marker-" + r.Tag
	existing := "/tmp/ig-open-" + r.Tag
	missing := "/tmp/ig-open-missing-" + r.Tag
	for _, p := range []string{marker, existing} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			return "", err
		}
	}
	if err := r.Start(true, "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	// Attached when an open of the marker file shows up.
	if _, err := r.Await("open of the marker file", r.AttachTimeout, func() {
		if f, err := os.Open(marker); err == nil {
			f.Close()
		}
	}, func(e Event) bool { return e.Path == marker }); err != nil {
		return "", err
	}

	f, err := os.Open(existing)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fd := int(f.Fd())
	if _, err := os.Open(missing); !errors.Is(err, syscall.ENOENT) {
		return "", fmt.Errorf("opening %s: got %v, want ENOENT", missing, err)
	}
	var problems Problems
	check := problems.Check
	e, err := r.Await("open of "+existing, r.EventTimeout, nil, func(e Event) bool { return e.Path == existing })
	if err != nil {
		return "", err
	}
	check("existing: pid", e.Pid, self)
	check("existing: fd", e.Fd, fd)
	check("existing: ret", e.Ret, fd)
	check("existing: error", e.Error, "")
	check("existing: comm", e.Comm, h.Comm)
	check("existing: pcomm", e.Pcomm, parentComm())
	e, err = r.Await("open of "+missing, r.EventTimeout, nil, func(e Event) bool { return e.Path == missing })
	if err != nil {
		return "", err
	}
	check("missing: pid", e.Pid, self)
	check("missing: fd", e.Fd, 0)
	check("missing: ret", e.Ret, -int(syscall.ENOENT))
	check("missing: error", e.Error, "ENOENT")
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught open of an existing file (fd %d) and of a missing one (ENOENT)", fd), nil
}

// trace exec: busybox run as `true` with a unique argument, as a child of
// this process, then a script (#!busybox sh) with another: the file each
// asked to run, with its device and inode. The kprobe variant sees the
// script's own file; the tracepoint variant gives its path as passed and no
// device or inode (ig -v says which ran).
func traceExec(r *Run, h Host) (string, error) {
	self := os.Getpid()
	markerArg := "ig-exec-marker-" + r.Tag
	uniqueArg := "ig-exec-" + r.Tag
	scriptArg := "ig-exec-script-" + r.Tag
	dir, err := os.MkdirTemp("", "ig-exec-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", err
	}
	script := filepath.Join(dir, "run.sh")
	if err := os.WriteFile(script, []byte("#!"+h.Busybox+" sh\nexit 0\n"), 0o755); err != nil {
		return "", err
	}
	var args []string
	if !slices.Contains(r.Args, "-v") {
		args = append(args, "-v") // to know the variant
	}
	if err := r.Start(true, args...); err != nil {
		return "", err
	}
	if _, err := r.Await("exec of the marker command", r.AttachTimeout, func() {
		_ = exec.Command(h.Busybox, "true", markerArg).Run()
	}, func(e Event) bool { return slices.Contains(e.Args, markerArg) }); err != nil {
		return "", err
	}
	cmd := exec.Command(h.Busybox, "true", uniqueArg)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running busybox true: %v", err)
	}
	if err := exec.Command(script, scriptArg).Run(); err != nil {
		return "", fmt.Errorf("running %s: %v", script, err)
	}
	e, err := r.Await("exec of "+h.Busybox+" true "+uniqueArg, r.EventTimeout, nil,
		func(e Event) bool { return slices.Contains(e.Args, uniqueArg) })
	if err != nil {
		return "", err
	}
	se, err := r.Await("exec of "+script, r.EventTimeout, nil,
		func(e Event) bool { return slices.Contains(e.Args, scriptArg) })
	if err != nil {
		return "", err
	}
	var problems Problems
	check := problems.Check
	check("args", strings.Join(e.Args, " "), h.Busybox+" true "+uniqueArg)
	check("pid", e.Pid, cmd.Process.Pid)
	check("ppid", e.Ppid, self)
	check("ret", e.Ret, 0)
	check("error", e.Error, "")
	check("exepath", e.Exepath, h.Busybox)
	checkExecFile(&problems, "busybox true", e, h.Busybox, true)
	check("script: args", strings.Join(se.Args, " "), h.Busybox+" sh "+script+" "+scriptArg)
	check("script: exepath (its interpreter)", se.Exepath, h.Busybox)
	variant := ""
	if m := regexp.MustCompile(`(?m)^ig: trace exec: using the (\S+) variant$`).FindStringSubmatch(r.Stderr()); m != nil {
		variant = m[1]
	}
	switch variant {
	case "kprobe":
		checkExecFile(&problems, "script", se, script, true)
	case "tracepoint":
		checkExecFile(&problems, "script", se, script, false) // as passed
	default:
		problems = append(problems, fmt.Sprintf("ig -v named no trace exec variant in %q", r.Stderr()))
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return "caught exec of busybox true with its arguments, ppid and ret 0, and of a script: its file, device and inode (" + variant + ")", nil
}

// checkExecFile checks the event's file, dev_major, dev_minor and inode:
// path with what stat says of it when known, else with 0.
func checkExecFile(p *Problems, what string, e Event, path string, known bool) {
	var f struct {
		File     string `json:"file"`
		DevMajor uint32 `json:"dev_major"`
		DevMinor uint32 `json:"dev_minor"`
		Inode    uint64 `json:"inode"`
	}
	if err := e.DecodeRaw(&f); err != nil {
		*p = append(*p, what+": "+err.Error())
		return
	}
	var major, minor uint32
	var ino uint64
	if known {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err != nil {
			*p = append(*p, what+": "+err.Error())
			return
		}
		major, minor, ino = unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino
	}
	p.Check(what+": file", f.File, path)
	p.Check(what+": dev", fmt.Sprintf("%d:%d", f.DevMajor, f.DevMinor), fmt.Sprintf("%d:%d", major, minor))
	p.Check(what+": inode", f.Inode, ino)
}

// snapshot process: this process, with its parent and name, and ig itself as its child.
func snapshotProcess(r *Run, h Host) (string, error) {
	if err := r.Start(false); err != nil {
		return "", err
	}
	select {
	case <-r.exited:
	case <-time.After(r.AttachTimeout):
		return "", fmt.Errorf("ig snapshot process did not finish within %s", r.AttachTimeout)
	}
	if r.err != nil {
		return "", fmt.Errorf("ig snapshot process: %v", r.err)
	}
	var rows []Event
	if err := json.Unmarshal(r.stdout.Bytes(), &rows); err != nil {
		return "", fmt.Errorf("output is not a JSON array: %v: %q", err, r.stdout.String())
	}
	r.Seen = len(rows)
	find := func(pid int) *Event {
		for i := range rows {
			if rows[i].Pid == pid {
				return &rows[i]
			}
		}
		return nil
	}
	self, ig := find(os.Getpid()), find(r.cmd.Process.Pid)
	var problems []string
	switch {
	case self == nil:
		problems = append(problems, fmt.Sprintf("no row for this process (pid %d)", os.Getpid()))
	case self.Ppid != os.Getppid() || self.Comm != h.Comm:
		problems = append(problems, fmt.Sprintf("this process's row: ppid %d comm %q, want ppid %d comm %q", self.Ppid, self.Comm, os.Getppid(), h.Comm))
	}
	switch {
	case ig == nil:
		problems = append(problems, fmt.Sprintf("no row for ig itself (pid %d)", r.cmd.Process.Pid))
	case ig.Ppid != os.Getpid() || ig.Comm != filepath.Base(r.IG) || ig.Pcomm != h.Comm:
		problems = append(problems, fmt.Sprintf("ig's row: ppid %d comm %q pcomm %q, want ppid %d comm \"ig\" pcomm %q", ig.Ppid, ig.Comm, ig.Pcomm, os.Getpid(), h.Comm))
	}
	if find(1) == nil {
		problems = append(problems, "no row for pid 1")
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d processes, this one and ig among them with the right ppid and comm", len(rows)), nil
}

// AlsoVariant runs check with the variant ig picks, then again with
// --variant variant, and says so in the detail. Where mayRefuse, a kernel
// that cannot run that variant may refuse it (ig exits at once, naming
// the variant in its reason): the detail then gives the reason; otherwise
// any failure of the second run is the workload's.
func AlsoVariant(r *Run, variant string, mayRefuse bool, check func(*Run) (string, error)) (string, error) {
	detail, err := check(r)
	if err != nil {
		return "", err
	}
	vd, err := WithVariantCheck(r, variant, mayRefuse, check)
	if err != nil {
		return "", err
	}
	return detail + "; " + vd, nil
}

// WithVariantCheck runs check with --variant variant; where mayRefuse, a
// kernel that cannot run it may refuse it, as AlsoVariant says.
func WithVariantCheck(r *Run, variant string, mayRefuse bool, check func(*Run) (string, error)) (string, error) {
	v := r.WithVariant(variant)
	defer v.Stop()
	vd, err := check(v)
	if err != nil {
		if line := refusal(v.Stderr(), variant); mayRefuse && line != "" && v.HasExited() && v.Err() != nil {
			return "--variant " + variant + " refused: " + line, nil
		}
		return "", fmt.Errorf("--variant %s: %v", variant, err)
	}
	return "--variant " + variant + ": " + vd, nil
}

// WithVariant is a new run of r's gadget and arguments with --variant variant.
func (r *Run) WithVariant(variant string) *Run {
	return &Run{IG: r.IG, Gadget: r.Gadget, Args: append(append([]string(nil), r.Args...), "--variant", variant),
		Tag: r.Tag + "-" + variant, AttachTimeout: r.AttachTimeout, EventTimeout: r.EventTimeout, StopTimeout: r.StopTimeout}
}

// Variant is the --variant r's arguments ask for; "" for ig's choice.
func (r *Run) Variant() string {
	for i, a := range r.Args {
		if a == "--variant" && i+1 < len(r.Args) {
			return r.Args[i+1]
		}
	}
	return ""
}

// VariantRan is the variant of gadget that r ran, as -v said it (the
// last said: a fallback's), else the one --variant asked for; "" when
// neither says.
func (r *Run) VariantRan() string {
	re := regexp.MustCompile(`(?m)^ig: ` + regexp.QuoteMeta(r.Gadget) + `: using the (\S+) variant( \(--variant\))?$`)
	m := re.FindAllStringSubmatch(r.Stderr(), -1)
	if len(m) == 0 {
		return r.Variant()
	}
	return m[len(m)-1][1]
}

// refusal is ig's one-line reason for not running variant (`ig: ...`), if any.
func refusal(stderr, variant string) string {
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ig: ") && strings.Contains(l, variant) && !strings.Contains(l, "using the") {
			return l
		}
	}
	return ""
}
