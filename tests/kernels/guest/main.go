// Command guest runs as a child of /init inside a Debian kernel booted under qemu by
// tests/kernels/run.sh. It asks /ig what this kernel supports (`ig requirements -o json`),
// then runs every gadget ig implements against a workload the gadget must catch, and reports:
//
//	IGREQ <the requirements JSON, one line>
//	IGRESULT {"gadget":..., "btf":"vmlinux|embedded", "status":"ok|refused|fail", "variant":..., "detail":...}
//	IGDONE <number of results>
//
// on /dev/ttyS1 (a file on the host, so kernel messages never interleave) and on the console.
// It judges only what it saw; tests/kernels/matrix compares the results with the requirements.
//
// Statuses: ok = ig ran and caught the workload's events with the right fields; refused = ig
// exited non-zero before choosing a variant, with `ig: <gadget>: <reason>` on stderr (detail is
// the reason); fail = anything else (detail says what).
//
// The kernel command line option ig.embedded=1 adds a `--btf-sources embedded` run of each of
// matrix.EmbeddedGadgets.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ig-tracer/ig/tests/kernels/matrix"
	"github.com/ig-tracer/ig/tests/syncbuf"
)

const (
	igPath = "/ig"
	// TCG is slow: ig's start (parsing the kernel's BTF, loading, attaching) takes seconds.
	attachTimeout = 120 * time.Second
	eventTimeout  = 30 * time.Second
	stopTimeout   = 60 * time.Second
)

// requirement is one entry of `ig requirements -o json`.
type requirement struct {
	Gadget      string   `json:"gadget"`
	Implemented bool     `json:"implemented"`
	OK          bool     `json:"ok"`
	Variant     string   `json:"variant"`
	Missing     []string `json:"missing"`
}

type result struct {
	Gadget  string  `json:"gadget"`
	BTF     string  `json:"btf"`
	Status  string  `json:"status"`
	Variant string  `json:"variant"`
	Detail  string  `json:"detail"`
	Seconds float64 `json:"seconds"`
	Stderr  string  `json:"stderr,omitempty"` // ig's whole stderr, on one line, when status is fail
}

// workloads: for each gadget, what to run against it. An implemented gadget without one fails.
var workloads = map[string]func(*igRun) (string, error){
	"trace open":       traceOpen,
	"trace exec":       traceExec,
	"snapshot process": snapshotProcess,
}

var out io.Writer = os.Stdout

func main() {
	if tty, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY, 0); err == nil {
		out = io.MultiWriter(os.Stdout, tty)
	} else {
		logf("no /dev/ttyS1 (%v): results on the console only", err)
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	embedded := slices.Contains(strings.Fields(string(cmdline)), "ig.embedded=1")

	reqs, err := requirements()
	if err != nil {
		// No IGDONE: the host reports the guest as not finished, with this on the console.
		logf("ig requirements: %v", err)
		os.Exit(1)
	}
	n := 0
	for _, r := range reqs {
		if !r.Implemented {
			continue
		}
		emit(runGadget(r.Gadget, "vmlinux"))
		n++
		if embedded && slices.Contains(matrix.EmbeddedGadgets, r.Gadget) {
			emit(runGadget(r.Gadget, "embedded"))
			n++
		}
	}
	fmt.Fprintf(out, "IGDONE %d\n", n)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "guest: "+format+"\n", args...)
}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Fprintf(out, "IGRESULT %s\n", b)
}

func requirements() ([]requirement, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(igPath, "requirements", "-o", "json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var reqs []requirement
	if err := json.Unmarshal(stdout.Bytes(), &reqs); err != nil {
		return nil, fmt.Errorf("%v in %q", err, stdout.String())
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, stdout.Bytes()); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "IGREQ %s\n", compact.Bytes())
	return reqs, nil
}

// igRun is one run of ig for one gadget with one BTF source.
type igRun struct {
	gadget string
	btf    string
	tag    string // unique to this run, for file names and arguments

	cmd    *exec.Cmd
	events chan event
	stdout bytes.Buffer // everything ig printed on stdout (snapshots)
	stderr syncbuf.Buffer
	exited chan struct{}
	err    error // cmd.Wait's result, once exited is closed
	seen   int   // events received

	exitedAlone bool // ig had exited before the guest stopped it
}

// event has the fields the workloads check; JSON names are ig's.
type event struct {
	Pid     int      `json:"pid"`
	Tid     int      `json:"tid"`
	Ppid    int      `json:"ppid"`
	Comm    string   `json:"comm"`
	Fd      int      `json:"fd"`
	Ret     int      `json:"ret"`
	Err     int      `json:"err"`
	Error   string   `json:"error"`
	Path    string   `json:"path"`
	Args    []string `json:"args"`
	Exepath string   `json:"exepath"`
}

func runGadget(gadget, btf string) result {
	start := time.Now()
	res := result{Gadget: gadget, BTF: btf}
	logf("%s (BTF: %s)", gadget, btf)
	work, ok := workloads[gadget]
	if !ok {
		res.Status, res.Detail = "fail", "no guest workload"
		return res
	}
	r := &igRun{gadget: gadget, btf: btf, tag: fmt.Sprintf("%d-%s", time.Now().UnixNano()%1e9, strings.ReplaceAll(gadget, " ", "-"))}
	detail, err := work(r)
	if r.cmd != nil {
		r.exitedAlone = r.hasExited()
		r.stop()
	}
	stderr := r.stderr.String()
	res.Variant = match(`(?m)^ig: `+regexp.QuoteMeta(gadget)+`: using the (\S+) variant$`, stderr)
	res.Seconds = float64(time.Since(start).Milliseconds()) / 1000
	switch {
	case err == nil:
		if src := match(`(?m)^ig: kernel BTF from (\S+) `, stderr); src != btf {
			res.Status, res.Detail = "fail", fmt.Sprintf("ig -v says kernel BTF from %q, want %q; stderr: %s", src, btf, oneLine(stderr))
		} else {
			res.Status, res.Detail = "ok", detail
		}
	case r.refused() != "":
		res.Status, res.Detail = "refused", r.refused()
	default:
		// detail: what went wrong and ig's last message that is not a -v line
		res.Status, res.Detail, res.Stderr = "fail", err.Error(), oneLine(stderr)
		if last := lastError(stderr); last != "" {
			res.Detail += ": " + last
		}
	}
	logf("%s (BTF: %s): %s %s in %.1f s", gadget, btf, res.Status, res.Detail, res.Seconds)
	return res
}

// refused is ig's reason when it exited non-zero before choosing a variant and said why in
// one line `ig: <gadget>: <reason>`; "" otherwise.
func (r *igRun) refused() string {
	if r.cmd == nil || !r.exitedAlone || r.err == nil || r.seen > 0 {
		return ""
	}
	stderr := r.stderr.String()
	if strings.Contains(stderr, ": using the ") {
		return ""
	}
	return match(`(?m)^ig: `+regexp.QuoteMeta(r.gadget)+`: (.+)$`, stderr)
}

// verboseLine matches ig's -v lines, which say what ig does, not what went wrong.
var verboseLine = regexp.MustCompile(`^ig: (kernel \S+, config from |.*: using the \S+ variant$|btf: |kernel BTF from |skipped )`)

// lastError is ig's last stderr line that is not a -v line.
func lastError(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !verboseLine.MatchString(l) {
			return l
		}
	}
	return ""
}

func match(re, s string) string {
	if m := regexp.MustCompile(re).FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}

// start runs ig with the gadget, -o json, -v and this run's BTF source, plus args.
func (r *igRun) start(streaming bool, args ...string) error {
	argv := append(strings.Fields(r.gadget), "-o", "json", "-v", "--btf-sources", r.btf)
	argv = append(argv, args...)
	r.cmd = exec.Command(igPath, argv...)
	r.cmd.Stderr = &r.stderr
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	r.events = make(chan event, 4096)
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
			var e event
			if err := json.Unmarshal(line, &e); err != nil {
				r.stderr.WriteString(fmt.Sprintf("guest: not a JSON event on ig's stdout: %q\n", line))
				continue
			}
			r.events <- e
		}
		r.err = r.cmd.Wait()
		close(r.events)
		close(r.exited)
	}()
	return nil
}

func (r *igRun) hasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// await reads events until one satisfies want, calling trigger (if any) every 250 ms.
func (r *igRun) await(what string, timeout time.Duration, trigger func(), want func(event) bool) (event, error) {
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
				return event{}, fmt.Errorf("ig exited (%v) before %s", r.err, what)
			}
			r.seen++
			if want(e) {
				return e, nil
			}
		case <-tick.C:
			if trigger != nil {
				trigger()
			}
		case <-deadline:
			return event{}, fmt.Errorf("no %s within %s", what, timeout)
		}
	}
}

// stop ends ig with SIGTERM, as a user would, and reports an unclean exit on stderr.
func (r *igRun) stop() {
	if !r.hasExited() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-r.exited:
	case <-time.After(stopTimeout):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// stopClean stops ig and fails unless it exited 0.
func (r *igRun) stopClean() error {
	r.stop()
	if r.err != nil {
		return fmt.Errorf("ig did not exit cleanly after SIGTERM: %v", r.err)
	}
	return nil
}

// trace open, filtered to this process: a file that exists and one that does not.
func traceOpen(r *igRun) (string, error) {
	self := os.Getpid()
	marker := "/tmp/ig-open-marker-" + r.tag
	existing := "/tmp/ig-open-" + r.tag
	missing := "/tmp/ig-open-missing-" + r.tag
	for _, p := range []string{marker, existing} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			return "", err
		}
	}
	if err := r.start(true, "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	// Attached when an open of the marker file shows up.
	if _, err := r.await("open of the marker file", attachTimeout, func() {
		if f, err := os.Open(marker); err == nil {
			f.Close()
		}
	}, func(e event) bool { return e.Path == marker }); err != nil {
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
	var problems []string
	check := func(what string, got, want any) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: got %v, want %v", what, got, want))
		}
	}
	e, err := r.await("open of "+existing, eventTimeout, nil, func(e event) bool { return e.Path == existing })
	if err != nil {
		return "", err
	}
	check("existing: pid", e.Pid, self)
	check("existing: fd", e.Fd, fd)
	check("existing: ret", e.Ret, fd)
	check("existing: error", e.Error, "")
	check("existing: comm", e.Comm, "guest")
	e, err = r.await("open of "+missing, eventTimeout, nil, func(e event) bool { return e.Path == missing })
	if err != nil {
		return "", err
	}
	check("missing: pid", e.Pid, self)
	check("missing: fd", e.Fd, 0)
	check("missing: ret", e.Ret, -int(syscall.ENOENT))
	check("missing: error", e.Error, "ENOENT")
	if err := r.stopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught open of an existing file (fd %d) and of a missing one (ENOENT)", fd), nil
}

// trace exec: busybox run as `true` with a unique argument, as a child of this process.
func traceExec(r *igRun) (string, error) {
	self := os.Getpid()
	markerArg := "ig-exec-marker-" + r.tag
	uniqueArg := "ig-exec-" + r.tag
	if err := r.start(true); err != nil {
		return "", err
	}
	if _, err := r.await("exec of the marker command", attachTimeout, func() {
		_ = exec.Command("/bin/busybox", "true", markerArg).Run()
	}, func(e event) bool { return slices.Contains(e.Args, markerArg) }); err != nil {
		return "", err
	}
	cmd := exec.Command("/bin/busybox", "true", uniqueArg)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running busybox true: %v", err)
	}
	e, err := r.await("exec of /bin/busybox true "+uniqueArg, eventTimeout, nil,
		func(e event) bool { return slices.Contains(e.Args, uniqueArg) })
	if err != nil {
		return "", err
	}
	var problems []string
	check := func(what string, got, want any) {
		if got != want {
			problems = append(problems, fmt.Sprintf("%s: got %v, want %v", what, got, want))
		}
	}
	check("args", strings.Join(e.Args, " "), "/bin/busybox true "+uniqueArg)
	check("pid", e.Pid, cmd.Process.Pid)
	check("ppid", e.Ppid, self)
	check("ret", e.Ret, 0)
	check("error", e.Error, "")
	check("exepath", e.Exepath, "/bin/busybox")
	if err := r.stopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return "caught exec of /bin/busybox true with its arguments, ppid and ret 0", nil
}

// snapshot process: this process, with its parent and name, and ig itself as its child.
func snapshotProcess(r *igRun) (string, error) {
	if err := r.start(false); err != nil {
		return "", err
	}
	select {
	case <-r.exited:
	case <-time.After(attachTimeout):
		return "", fmt.Errorf("ig snapshot process did not finish within %s", attachTimeout)
	}
	if r.err != nil {
		return "", fmt.Errorf("ig snapshot process: %v", r.err)
	}
	var rows []event
	if err := json.Unmarshal(r.stdout.Bytes(), &rows); err != nil {
		return "", fmt.Errorf("output is not a JSON array: %v: %q", err, r.stdout.String())
	}
	r.seen = len(rows)
	find := func(pid int) *event {
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
		problems = append(problems, fmt.Sprintf("no row for the guest (pid %d)", os.Getpid()))
	case self.Ppid != os.Getppid() || self.Comm != "guest":
		problems = append(problems, fmt.Sprintf("guest row: ppid %d comm %q, want ppid %d comm \"guest\"", self.Ppid, self.Comm, os.Getppid()))
	}
	switch {
	case ig == nil:
		problems = append(problems, fmt.Sprintf("no row for ig itself (pid %d)", r.cmd.Process.Pid))
	case ig.Ppid != os.Getpid() || ig.Comm != filepath.Base(igPath):
		problems = append(problems, fmt.Sprintf("ig's row: ppid %d comm %q, want ppid %d comm \"ig\"", ig.Ppid, ig.Comm, os.Getpid()))
	}
	if find(1) == nil {
		problems = append(problems, "no row for pid 1")
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("%d processes, the guest and ig among them with the right ppid and comm", len(rows)), nil
}
