package process

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tracers"
)

// Rows read from /proc are stamped with the moment of the snapshot, and
// carry the comm the kernel keeps.
func TestReadProcs(t *testing.T) {
	before := time.Now().UnixNano()
	procs := readProcs([]int{os.Getpid(), 1}, false, tracers.Filter{})
	after := time.Now().UnixNano()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	comm := strings.TrimSuffix(string(b), "\n")
	var found bool
	for _, p := range procs {
		if p.Timestamp < before || p.Timestamp > after {
			t.Errorf("pid %d: timestamp %v, not within the snapshot's [%v, %v]", p.Pid, time.Unix(0, p.Timestamp), time.Unix(0, before), time.Unix(0, after))
		}
		if len(p.Comm) > 15 {
			t.Errorf("pid %d: comm %q is longer than %d bytes", p.Pid, p.Comm, 15)
		}
		if p.Pid == uint32(os.Getpid()) {
			found = true
			if p.Comm != comm || p.Tid != p.Pid || p.Ppid != uint32(os.Getppid()) {
				t.Errorf("this process: %+v, want comm %q tid %d ppid %d", p.Event, comm, p.Pid, os.Getppid())
			}
		}
	}
	if !found {
		t.Errorf("this process (%d) not among %d rows read from /proc", os.Getpid(), len(procs))
	}
}
