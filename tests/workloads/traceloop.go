package workloads

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func init() { Table["traceloop"] = traceloop }

// traceloop records the host (a guest has no container): this process
// opens a missing file of its own, and the dump at Ctrl-C shows that
// openat with its path, this pid and ENOENT.
func traceloop(r *Run, h Host) (string, error) {
	if err := r.Start(false, "-v", "--syscall-filters", "openat"); err != nil {
		return "", err
	}
	deadline := time.Now().Add(r.AttachTimeout)
	for !strings.Contains(r.Stderr(), "recording the host (") {
		if time.Now().After(deadline) {
			_ = r.cmd.Process.Kill()
			return "", fmt.Errorf("ig did not say it records the host: %q", r.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	path := filepath.Join(os.TempDir(), "ig-traceloop-"+r.Tag)
	for i := 0; i < 3; i++ {
		if f, err := os.Open(path); err == nil {
			f.Close()
		}
	}
	_ = r.cmd.Process.Signal(syscall.SIGINT)
	if err := r.WaitEnd(r.StopTimeout); err != nil {
		return "", err
	}
	var row struct {
		Pid        int    `json:"pid"`
		Syscall    string `json:"syscall"`
		Ret        string `json:"ret"`
		Parameters []struct {
			Name    string `json:"name"`
			Content string `json:"content"`
		} `json:"parameters"`
	}
	seen := 0
	for _, l := range strings.Split(r.stdout.String(), "\n") {
		if json.Unmarshal([]byte(l), &row) != nil || row.Syscall != "openat" || row.Pid != os.Getpid() || len(row.Parameters) < 2 {
			continue
		}
		if row.Parameters[1].Name == "filename" && row.Parameters[1].Content == path && row.Ret == "-1 ENOENT" {
			seen++
		}
	}
	if seen != 3 {
		return "", fmt.Errorf("%d of this process's 3 opens of %s in the dump (want 3, with -1 ENOENT): %.2000s", seen, path, r.stdout.String())
	}
	return fmt.Sprintf("the dump at Ctrl-C shows this process's 3 opens of %s, ENOENT", path), nil
}
