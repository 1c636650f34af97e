package tests

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"
)

// openProgs are the eBPF programs of trace open, as the kernel names them
// (at most 15 characters).
var openProgs = []string{"enter_open", "exit_open", "enter_openat", "exit_openat", "enter_openat2", "exit_openat2"}

// TestLifecycle checks, with bpftool, that ig has its programs loaded and
// attached while it runs, and leaves nothing behind (programs, links, maps,
// BTF) when it is stopped by SIGINT, SIGTERM or -t, exiting 0 each time.
//
// Other processes may load eBPF programs meanwhile (another ig, say), so
// ig's objects are told apart by the file descriptors ig holds
// (/proc/PID/fdinfo), and new programs named like ours that remain after ig
// are accepted only when another live process holds them.
func TestLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	for _, tc := range []struct {
		name string
		args []string
		stop func(*proc) result
	}{
		{"SIGINT", nil, func(p *proc) result { return p.stop(sigINT) }},
		{"SIGTERM", nil, func(p *proc) result { return p.stop(sigTERM) }},
		{"-t 1", []string{"-t", "1"}, func(p *proc) result { return p.wait() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotBPF(t)
			ig := startIG(t, append([]string{"trace", "open", "-o", "json", "--pid", strconv.Itoa(os.Getpid())}, tc.args...)...)
			ig.waitOpenJSON(newMarkerFile(t))
			held, err := heldBy(ig.cmd.Process.Pid)
			during := snapshotBPF(t)
			if err != nil || ig.exited() {
				t.Fatalf("ig ended before its eBPF objects could be listed (%v): %s", err, ig.wait())
			}

			t.Logf("ig holds %d programs, %d links, %d maps, %d BTF objects", len(held["prog"]), len(held["link"]), len(held["map"]), len(held["btf"]))
			// While ig runs: every program of trace open is loaded, new, held
			// by ig, and attached by a link ig holds.
			var names []string
			for id := range held["prog"] {
				p, ok := during.progs[id]
				if !ok {
					t.Errorf("ig holds program %d, which bpftool does not list", id)
					continue
				}
				if _, old := before.progs[id]; old {
					t.Errorf("ig holds program %d (%s), which existed before it started", id, p.Name)
				}
				names = append(names, p.Name)
				attached := false
				for l := range held["link"] {
					attached = attached || during.links[l].ProgID == id
				}
				if !attached {
					t.Errorf("while ig runs, its program %d (%s) is not attached by any link it holds", id, p.Name)
				}
			}
			sort.Strings(names)
			want := slices.Clone(openProgs)
			sort.Strings(want)
			if !slices.Equal(names, want) {
				t.Errorf("while ig runs, bpftool lists its programs as %q, want %q", names, want)
			}
			if len(held["map"]) == 0 {
				t.Error("while ig runs, it holds no eBPF map")
			}

			r := tc.stop(ig)
			checkSuccess(t, r)

			// After: nothing ig held is left. The kernel may free objects
			// a moment after the process ends.
			var after bpfState
			var left []string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				after = snapshotBPF(t)
				left = left[:0]
				for _, kind := range []string{"prog", "link", "map", "btf"} {
					for id := range held[kind] {
						if after.has(kind, id) {
							left = append(left, fmt.Sprintf("%s %d", kind, id))
						}
					}
				}
				if len(left) == 0 || time.Now().After(deadline) {
					break
				}
			}
			if len(left) > 0 {
				t.Errorf("after ig exited, still in the kernel: %v", left)
			}
			// Programs named like ours: the same after as before, except those
			// another live process holds.
			for _, id := range after.progIDsNamed(openProgs) {
				if _, old := before.progs[id]; !old {
					if pids := progHolders(id); len(pids) == 0 {
						t.Errorf("after ig exited, program %d (%s) appeared and no process holds it", id, after.progs[id].Name)
					}
				}
			}
		})
	}
}
