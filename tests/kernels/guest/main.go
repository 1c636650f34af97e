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
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ig-tracer/ig/tests/kernels/matrix"
	"github.com/ig-tracer/ig/tests/workloads"
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

func runGadget(gadget, btf string) result {
	start := time.Now()
	res := result{Gadget: gadget, BTF: btf}
	logf("%s (BTF: %s)", gadget, btf)
	work, ok := workloads.Table[gadget]
	if !ok {
		res.Status, res.Detail = "fail", "no workload in tests/workloads"
		return res
	}
	r := &workloads.Run{IG: igPath, Gadget: gadget, Args: []string{"-v", "--btf-sources", btf},
		Tag:           fmt.Sprintf("%d-%s", time.Now().UnixNano()%1e9, strings.ReplaceAll(gadget, " ", "-")),
		AttachTimeout: attachTimeout, EventTimeout: eventTimeout, StopTimeout: stopTimeout}
	detail, err := work(r, workloads.Host{Comm: "guest", Busybox: "/bin/busybox"})
	exitedAlone := false
	if r.Started() {
		exitedAlone = r.HasExited()
		r.Stop()
	}
	stderr := r.Stderr()
	res.Variant = match(`(?m)^ig: `+regexp.QuoteMeta(gadget)+`: using the (\S+) variant$`, stderr)
	res.Seconds = float64(time.Since(start).Milliseconds()) / 1000
	switch {
	case err == nil:
		// A variant that loads no eBPF of ig's (script's bpftrace) reads no kernel BTF.
		noBPF := strings.Contains(stderr, " variant loads no eBPF of ig's")
		if src := match(`(?m)^ig: kernel BTF from (\S+) `, stderr); src != btf && !noBPF {
			res.Status, res.Detail = "fail", fmt.Sprintf("ig -v says kernel BTF from %q, want %q; stderr: %s", src, btf, oneLine(stderr))
		} else {
			res.Status, res.Detail = "ok", detail
		}
	case refused(r, exitedAlone) != "":
		res.Status, res.Detail = "refused", refused(r, exitedAlone)
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

// refused is ig's reason when it exited non-zero (by itself) before choosing a
// variant and said why in one line `ig: <gadget>: <reason>`; "" otherwise.
func refused(r *workloads.Run, exitedAlone bool) string {
	if !r.Started() || !exitedAlone || r.Err() == nil || r.Seen > 0 {
		return ""
	}
	stderr := r.Stderr()
	if strings.Contains(stderr, ": using the ") {
		return ""
	}
	return match(`(?m)^ig: `+regexp.QuoteMeta(r.Gadget)+`: (.+)$`, stderr)
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
