package runtimes

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// Details remembers what a runtime said about each running container, so a
// refresh asks the runtime only about containers it has not described yet:
// one question per container every second is load on the daemon, and shows
// in ig's own output as the daemon's activity. A description holds while
// the container's process lives: the same pid, started at the same time (a
// docker restart keeps the id, not the process).
type Details struct {
	mu sync.Mutex
	m  map[string]detail
}

type detail struct {
	ct    Container
	start uint64
}

// Get returns the description of container id, if its process still runs.
func (d *Details) Get(id string) (Container, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.m[id]
	if !ok {
		return Container{}, false
	}
	if start, ok := processStart(old.ct.Pid); !ok || start != old.start {
		delete(d.m, id)
		return Container{}, false
	}
	return old.ct, true
}

// Put remembers ct's description.
func (d *Details) Put(ct Container) {
	start, ok := processStart(ct.Pid)
	if !ok {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]detail{}
	}
	d.m[ct.ID] = detail{ct: ct, start: start}
}

// Prune forgets the containers that are not in listed.
func (d *Details) Prune(listed map[string]bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id := range d.m {
		if !listed[id] {
			delete(d.m, id)
		}
	}
}

// processStart is when process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat).
func processStart(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields from its closing parenthesis, which is field 3's start - 2.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+1:])
	if len(fields) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(fields[19]), 10, 64)
	return v, err == nil
}
