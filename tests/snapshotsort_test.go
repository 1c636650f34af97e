package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// --sort and -m/--max-rows on snapshot gadgets: IG's syntax, one run's
// rows in order, and an unknown column named with the valid ones.
func TestSnapshotSort(t *testing.T) {
	igBinary(t)
	startSleep(t)
	startSleep(t)
	pids := func(procs []commonEvent) []int64 {
		var out []int64
		for _, p := range procs {
			out = append(out, p.Pid)
		}
		return out
	}
	t.Run("pid", func(t *testing.T) {
		got := pids(snapshotProcs(t, "--sort", "pid"))
		if len(got) < 3 || !slices.IsSorted(got) {
			t.Errorf("--sort pid: pids not ascending: %v", got)
		}
	})
	t.Run("-pid", func(t *testing.T) {
		got := pids(snapshotProcs(t, "--sort", "-pid"))
		if len(got) < 3 || !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("--sort -pid: pids not descending: %v", got)
		}
	})
	t.Run("comm,-pid", func(t *testing.T) {
		procs := snapshotProcs(t, "--sort", "comm,-pid", "--comm", "sleep")
		if len(procs) < 2 {
			t.Fatalf("want the two sleeps at least, got %+v", procs)
		}
		if got := pids(procs); !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("--sort comm,-pid --comm sleep: pids not descending: %v", got)
		}
	})
	t.Run("max-rows", func(t *testing.T) {
		all := pids(snapshotProcs(t, "--sort", "-pid"))
		got := pids(snapshotProcs(t, "--sort", "-pid", "-m", "2"))
		if len(got) != 2 || got[0] <= got[1] {
			t.Fatalf("--sort -pid -m 2: want two rows, highest pid first, got %v", got)
		}
		// Processes come and go between the runs; those two are at least
		// as high as the second of the run before, but for a new process.
		if got[1] < all[1] && len(all) > 1 {
			for _, p := range all[:2] {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", p)); err == nil {
					t.Errorf("-m 2 gave %v, but %d (of the full list's first two, %v) still runs", got, p, all[:2])
				}
			}
		}
		// Columns: the header and two rows.
		r := runIG(t, "snapshot", "process", "--sort", "-pid", "--max-rows", "2")
		checkSuccess(t, r)
		if lines := completeLines(r.Stdout); len(lines) != 3 {
			t.Errorf("--max-rows 2: want a header and 2 rows, got %q", lines)
		}
	})
	t.Run("socket", func(t *testing.T) {
		r := runIG(t, "snapshot", "socket", "--sort", "-inode", "-m", "3", "-o", "json")
		var socks []struct {
			Inode uint64 `json:"inodeNumber"`
		}
		arr := snapshotArray(t, r)
		if err := json.Unmarshal(r.Stdout, &socks); err != nil {
			t.Fatal(err)
		}
		if len(arr) != 3 || socks[0].Inode < socks[1].Inode || socks[1].Inode < socks[2].Inode {
			t.Errorf("snapshot socket --sort -inode -m 3: got %+v", socks)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want *regexp.Regexp
		}{
			{[]string{"snapshot", "process", "--sort", "pid,nope"}, regexp.MustCompile(`^ig: --sort "pid,nope": unknown column "nope"; sortable columns: .*\bpid\b.*\bcomm\b`)},
			{[]string{"snapshot", "socket", "--sort", "-nope"}, regexp.MustCompile(`^ig: --sort "-nope": unknown column "nope"; sortable columns: .*\bprotocol\b.*\binode\b`)},
			{[]string{"snapshot", "process", "-m", "-1"}, regexp.MustCompile(`--max-rows -1: want 0 \(all\) or more`)},
			{[]string{"snapshot", "process", "--tree", "-m", "2"}, regexp.MustCompile(`--max-rows .* --tree`)},
			{[]string{"snapshot", "process", "--tree", "-o", "columns=pid"}, regexp.MustCompile(`--tree .* -o columns=`)},
		} {
			msg := checkFailure(t, runIG(t, tc.args...))
			if !tc.want.MatchString(msg) {
				t.Errorf("%q: got %q, want %s", tc.args, msg, tc.want)
			}
		}
	})
}

// treeNode is a process of `snapshot process --tree -o json`.
type treeNode struct {
	commonEvent
	Children []treeNode `json:"children"`
}

// TestSnapshotTree: a container whose processes form a known tree, sh and
// its two sleeps, shows them under its name, the sleeps indented under sh,
// in --sort's order; the host's processes follow under (host) with --host.
func TestSnapshotTree(t *testing.T) {
	runtimesUp(t)
	t.Setenv("RUN_SCRIPT", "sleep 1000 & sleep 1000 & wait")
	name, sh := container(t, "docker")
	os.Unsetenv("RUN_SCRIPT")
	var sleeps []int
	for i := 0; ; i++ {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
		sleeps = sleeps[:0]
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil && procComm(t, f) == "sleep" {
				sleeps = append(sleeps, p)
			}
		}
		if len(sleeps) == 2 {
			break
		}
		if i > 100 {
			t.Fatalf("container %s: sh (%d) never had two sleep children (%q)", name, sh, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	slices.Sort(sleeps)
	want := fmt.Sprintf("%s\n|-sh(%d)\n\t|-sleep(%d)\n\t|-sleep(%d)\n", name, sh, sleeps[0], sleeps[1])

	t.Run("columns", func(t *testing.T) {
		r := runIG(t, "snapshot", "process", "--tree", "-c", name)
		checkSuccess(t, r)
		if string(r.Stdout) != want {
			t.Errorf("got:\n%s\nwant:\n%s", r.Stdout, want)
		}
	})
	t.Run("sort", func(t *testing.T) {
		r := runIG(t, "snapshot", "process", "--tree", "-c", name, "--sort", "-pid")
		checkSuccess(t, r)
		want := fmt.Sprintf("%s\n|-sh(%d)\n\t|-sleep(%d)\n\t|-sleep(%d)\n", name, sh, sleeps[1], sleeps[0])
		if string(r.Stdout) != want {
			t.Errorf("--sort -pid: got:\n%s\nwant:\n%s", r.Stdout, want)
		}
	})
	t.Run("host", func(t *testing.T) {
		r := runIG(t, "snapshot", "process", "--tree", "-c", name, "--host")
		checkSuccess(t, r)
		out := string(r.Stdout)
		if !strings.HasPrefix(out, want+"(host)\n") {
			t.Fatalf("want the container's tree, then (host):\n%s", tail(r.Stdout))
		}
		// The test itself is in the host's tree, indented under its parent.
		self := regexp.MustCompile(fmt.Sprintf(`(?m)^(\t*)\|-\S+\(%d\)\n(\t*)\|-\S+\(%d\)$`, os.Getppid(), os.Getpid()))
		m := self.FindStringSubmatch(out)
		if m == nil || len(m[2]) != len(m[1])+1 {
			// Its parent may have other children listed between them.
			if !strings.Contains(out, fmt.Sprintf("(%d)\n", os.Getpid())) {
				t.Errorf("the test process %d is not in the host's tree:\n%s", os.Getpid(), tail(r.Stdout))
			}
		}
	})
	t.Run("json+yaml", func(t *testing.T) {
		for _, o := range []string{"json", "jsonpretty", "yaml"} {
			r := runIG(t, "snapshot", "process", "--tree", "-c", name, "-o", o)
			checkSuccess(t, r)
			var roots []treeNode
			unmarshal := json.Unmarshal
			if o == "yaml" {
				unmarshal = func(b []byte, v any) error { return yaml.Unmarshal(b, v) }
				// keys in the order of -o json (and of the flat snapshot's
				// yaml): runtime first, not sorted (children first)
				if !bytes.HasPrefix(r.Stdout, []byte("---\n- runtime:\n")) {
					t.Errorf("-o yaml: want a document of the processes, with -o json's keys in their order:\n%s", tail(r.Stdout))
				}
			}
			if err := unmarshal(r.Stdout, &roots); err != nil {
				t.Fatalf("-o %s: %v\n%s", o, err, r.Stdout)
			}
			if len(roots) != 1 || roots[0].Pid != int64(sh) || roots[0].Comm != "sh" || roots[0].Runtime.ContainerName != name || len(roots[0].Children) != 2 {
				t.Fatalf("-o %s: want sh (%d) of %s with two children, got %+v", o, sh, name, roots)
			}
			for i, c := range roots[0].Children {
				if c.Pid != int64(sleeps[i]) || c.Comm != "sleep" || c.Ppid != int64(sh) || c.Children == nil || len(c.Children) != 0 {
					t.Errorf("-o %s: child %d: got %+v, want sleep %d with children []", o, i, c, sleeps[i])
				}
			}
		}
	})
}
