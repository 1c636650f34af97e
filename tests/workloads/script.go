package workloads

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func init() { Table["script"] = script }

// script: a bpftrace program counting this process's openat calls, which
// it makes, counts them. Where bpftrace is not installed (the kernel
// guests), ig must say so, naming the package, and exit non-zero.
func script(r *Run, h Host) (string, error) {
	if _, err := exec.LookPath("bpftrace"); err != nil {
		if err := r.Start(false, "-e", "BEGIN { exit(); }"); err != nil {
			return "", err
		}
		if err := r.WaitEnd(r.AttachTimeout + 20*time.Second); err == nil || !strings.Contains(r.Stderr(), "bpftrace not found on PATH: install it") {
			return "", fmt.Errorf("without bpftrace: %v: %q", err, r.Stderr())
		}
		return "no bpftrace here: ig says so and exits 1 (" + strings.TrimSpace(r.Stderr()) + ")", nil
	}
	if err := r.Start(false, "-v", "--pid", strconv.Itoa(os.Getpid()), "-e", "tracepoint:syscalls:sys_enter_openat { @opens = count(); }"); err != nil {
		return "", err
	}
	// bpftrace takes a while to compile and attach: open until it counts.
	deadline := time.Now().Add(r.AttachTimeout + 10*time.Second)
	for time.Now().Before(deadline) && !strings.Contains(r.Stderr(), "attached") {
		os.ReadFile("/proc/self/stat")
		time.Sleep(50 * time.Millisecond)
	}
	// bpftrace says "attached" as it enables its probes: a moment more,
	// or the first open may come before the probe counts (seen once: 19)
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 20; i++ {
		os.ReadFile("/proc/self/stat")
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT) // bpftrace prints its map and ends
	if err := r.WaitEnd(r.AttachTimeout + 20*time.Second); err != nil {
		return "", err
	}
	var line struct {
		Type string                     `json:"type"`
		Data map[string]json.RawMessage `json:"data"`
	}
	for _, l := range strings.Split(r.stdout.String(), "\n") {
		if json.Unmarshal([]byte(l), &line) == nil && line.Type == "map" {
			n, _ := strconv.Atoi(string(line.Data["@opens"]))
			if n < 20 {
				return "", fmt.Errorf("@opens = %d, want at least the 20 opens made", n)
			}
			return fmt.Sprintf("bpftrace counted %d opens of this process", n), nil
		}
	}
	return "", fmt.Errorf("no map in ig's output: %q", r.stdout.String())
}
