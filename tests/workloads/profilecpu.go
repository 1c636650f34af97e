package workloads

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

func init() { Table["profile cpu"] = profileCPU }

// profileRow is what profile cpu reports of one stack.
type profileRow struct {
	Pid         int      `json:"pid"`
	Comm        string   `json:"comm"`
	UserStack   []string `json:"userStack"`
	KernelStack []string `json:"kernelStack"`
	Count       int      `json:"count"`
}

// ProfileSpinName is the function profileCPUSpin as Go names it in stacks.
const ProfileSpinName = "github.com/ig-tracer/ig/tests/workloads.profileCPUSpin"

var profileSink atomic.Uint64

// profileCPUSpin burns CPU in user space until stop is set: the function
// profile cpu must find on top of this process's stacks.
//
//go:noinline
func profileCPUSpin(stop *atomic.Bool) {
	x := uint64(1)
	for !stop.Load() {
		for i := 0; i < 1<<16; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	profileSink.Add(x)
}

// profile cpu --pid this process for 3 seconds, while a thread of it spins
// in profileCPUSpin: that function is the innermost user frame of this
// process's hottest stack.
func profileCPU(r *Run, h Host) (string, error) {
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		profileCPUSpin(&stop)
		close(done)
	}()
	defer func() { stop.Store(true); <-done }()
	if err := r.Start(false, "--pid", strconv.Itoa(os.Getpid()), "-t", "3"); err != nil {
		return "", err
	}
	select {
	case <-r.exited:
	case <-time.After(r.AttachTimeout + 3*time.Second):
		return "", fmt.Errorf("ig profile cpu -t 3 did not end within %s", r.AttachTimeout+3*time.Second)
	}
	if r.err != nil {
		return "", fmt.Errorf("ig profile cpu: %v", r.err)
	}
	var rows []profileRow
	for _, line := range strings.Split(strings.TrimSpace(r.stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var row profileRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return "", fmt.Errorf("not a JSON row: %v: %q", err, line)
		}
		rows = append(rows, row)
	}
	r.Seen = len(rows)
	total, spin, kernel := 0, 0, 0
	var hottest *profileRow
	for i := range rows {
		row := &rows[i]
		if row.Pid != os.Getpid() {
			return "", fmt.Errorf("a row of pid %d under --pid %d: %+v", row.Pid, os.Getpid(), row)
		}
		total += row.Count
		if len(row.UserStack) > 0 && row.UserStack[0] == ProfileSpinName {
			spin += row.Count
		}
		if len(row.KernelStack) > 0 {
			kernel += row.Count
		}
		if hottest == nil || row.Count > hottest.Count {
			hottest = row
		}
	}
	if hottest == nil {
		return "", fmt.Errorf("no sample of this process in 3 s")
	}
	if spin*2 < total || !slices.Contains(hottest.UserStack, ProfileSpinName) {
		return "", fmt.Errorf("%s is on top of %d of %d samples; the hottest stack (%d) is %v / kernel %v",
			ProfileSpinName, spin, total, hottest.Count, hottest.UserStack, hottest.KernelStack)
	}
	if hottest.Comm != h.Comm {
		return "", fmt.Errorf("the hottest stack's comm is %q, want %q", hottest.Comm, h.Comm)
	}
	return fmt.Sprintf("%d samples, %d with profileCPUSpin innermost, %d with kernel frames", total, spin, kernel), nil
}
