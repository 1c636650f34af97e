package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scriptLine is a line of ig script -o json.
type scriptLine struct {
	Runtime struct {
		RuntimeName   string `json:"runtimeName"`
		ContainerName string `json:"containerName"`
	} `json:"runtime"`
	Type   string          `json:"type"`
	Output string          `json:"output"`
	Data   json.RawMessage `json:"data"`
}

// TestScript: a bpftrace program counting openat by comm, restricted to a
// docker container with -c, counts the container's cat and not a process
// of the host with a name of its own; its printf lines carry the
// container; the count comes out when ig is stopped.
func TestScript(t *testing.T) {
	runtimesUp(t)
	requireTool(t, "bpftrace")
	name, _ := container(t, "docker")
	hostCat := filepath.Join(t.TempDir(), "igthostcat")
	catPath, err := exec.LookPath("cat")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(catPath); err != nil || os.WriteFile(hostCat, b, 0o755) != nil {
		t.Fatalf("copy cat: %v", err)
	}
	prog := `tracepoint:syscalls:sys_enter_openat { @opens[comm] = count(); }
tracepoint:syscalls:sys_enter_openat /comm == "cat"/ { printf("%s opened %s\n", comm, str(args->filename)); }`
	ig := startIG(t, "script", "-c", name, "-o", "json", "-e", prog)
	ig.waitUntil("the container's cat", func() {
		exec.Command(hostCat, "/etc/hostname").Run()
		inContainer(t, "docker", name, "cat", "/etc/hostname")
	}, func(stdout []byte) bool { return strings.Contains(string(stdout), `cat opened /etc/hostname`) })
	exec.Command(hostCat, "/etc/hostname").Run()
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	var counts map[string]map[string]int
	for _, text := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
		var l scriptLine
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("not a JSON line: %q", text)
		}
		switch l.Type {
		case "printf":
			if l.Runtime.ContainerName != name || l.Runtime.RuntimeName != "docker" || !strings.HasPrefix(l.Output, "cat opened ") {
				t.Errorf("a printf line: %+v", l)
			}
		case "map":
			if err := json.Unmarshal(l.Data, &counts); err != nil {
				t.Fatalf("the map: %v: %s", err, l.Data)
			}
		}
	}
	if counts["@opens"]["cat"] == 0 || counts["@opens"]["igthostcat"] != 0 {
		t.Errorf("opens by comm: %v, want the container's cat and not the host's igthostcat", counts)
	}
}

// TestScriptErrors: no program, an invalid one, -e with -f: one line and
// a non-zero exit.
func TestScriptErrors(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftrace")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"script"}, "ig: no program: give one with -e PROGRAM or -f FILE"},
		{[]string{"script", "-e", "tracepoint:nope:nope { }"}, "ig: bpftrace: stdin:1:1-21: ERROR: tracepoint not found: nope:nope"},
		{[]string{"script", "-e", "x", "-f", "y"}, "ig: -e and -f: give the program one way"},
		{[]string{"script", "-f", "/nonexistent.bt"}, "ig: -f /nonexistent.bt: open /nonexistent.bt: no such file or directory"},
	} {
		if msg := checkFailure(t, runIG(t, tc.args...)); msg != tc.want {
			t.Errorf("ig %s: %q, want %q", strings.Join(tc.args, " "), msg, tc.want)
		}
	}
}
