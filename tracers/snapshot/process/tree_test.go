package process

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

func proc(pid, tid, ppid uint32, comm, containerID, container string) Process {
	var p Process
	p.Pid, p.Tid, p.Ppid, p.Comm = pid, tid, ppid, comm
	p.Runtime.ContainerID, p.Runtime.ContainerName = containerID, container
	return p
}

func sample() []Process {
	return []Process{
		proc(1, 1, 0, "systemd", "", ""),
		proc(2, 2, 0, "kthreadd", "", ""),
		proc(10, 10, 1, "containerd-shim", "", ""),
		proc(11, 11, 10, "sh", "c2", "web"),
		proc(12, 12, 11, "sleep", "c2", "web"),
		proc(13, 13, 11, "sleep", "c2", "web"),
		proc(14, 14, 10, "nginx", "c1", "api"),
		proc(15, 15, 2, "kworker/0:1", "", ""),
		proc(16, 16, 1, "bash", "", ""),
		proc(16, 17, 1, "bash", "", ""), // a second thread of 16 (--threads)
	}
}

// Each container's processes under its name, by name, then the host's;
// a container's first process is a root though its parent is the host's.
func TestTreeText(t *testing.T) {
	var out bytes.Buffer
	env := &tracers.Env{Format: output.Format{Mode: output.ModeColumns}, Stdout: &out}
	if err := printTree(env, sample()); err != nil {
		t.Fatal(err)
	}
	want := "api\n|-nginx(14)\n" +
		"web\n|-sh(11)\n\t|-sleep(12)\n\t|-sleep(13)\n" +
		"(host)\n|-systemd(1)\n\t|-containerd-shim(10)\n\t|-bash(16)\n\t\t|-{bash}(17)\n|-kthreadd(2)\n\t|-kworker/0:1(15)\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

// A comm is the process's to choose (prctl): one holding a newline or an
// escape sequence is shown quoted, as the flat table shows it, and cannot
// draw a line of the tree or colour the terminal.
func TestTreeTextEscapes(t *testing.T) {
	var out bytes.Buffer
	env := &tracers.Env{Format: output.Format{Mode: output.ModeColumns}, Stdout: &out}
	evil := "evil\n|-fake(9)\x1b[31m"
	if err := printTree(env, []Process{proc(5, 5, 0, evil, "", ""), proc(5, 6, 0, evil, "", "")}); err != nil {
		t.Fatal(err)
	}
	want := "(host)\n|-\"evil\\n|-fake(9)\\x1b[31m\"(5)\n\t|-{\"evil\\n|-fake(9)\\x1b[31m\"}(6)\n"
	if out.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}

type jsonNode struct {
	Pid      uint32     `json:"pid"`
	Tid      uint32     `json:"tid"`
	Comm     string     `json:"comm"`
	Children []jsonNode `json:"children"`
	Runtime  struct {
		ContainerName string `json:"containerName"`
	} `json:"runtime"`
}

// -o json: the roots, each with its children nested, empty arrays kept.
func TestTreeJSON(t *testing.T) {
	for _, mode := range []output.Mode{output.ModeJSON, output.ModeJSONPretty} {
		var out bytes.Buffer
		env := &tracers.Env{Format: output.Format{Mode: mode}, Stdout: &out}
		if err := printTree(env, sample()); err != nil {
			t.Fatal(err)
		}
		var roots []jsonNode
		if err := json.Unmarshal(out.Bytes(), &roots); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		if len(roots) != 4 || roots[0].Comm != "nginx" || roots[1].Comm != "sh" || roots[2].Comm != "systemd" || roots[3].Comm != "kthreadd" {
			t.Fatalf("roots: %+v", roots)
		}
		sh := roots[1]
		if sh.Runtime.ContainerName != "web" || len(sh.Children) != 2 || sh.Children[0].Pid != 12 || sh.Children[1].Pid != 13 {
			t.Errorf("sh: %+v", sh)
		}
		if sh.Children[0].Children == nil || !bytes.Contains(out.Bytes(), []byte(`"children":[]`)) && mode == output.ModeJSON {
			t.Errorf("a leaf must have an empty children array:\n%s", out.String())
		}
	}
}

// Siblings keep the order they come in: --sort's.
func TestTreeSiblingOrder(t *testing.T) {
	procs := sample()
	sorter, err := schema.ParseSort("-pid")
	if err != nil {
		t.Fatal(err)
	}
	output.SortRows(procs, sorter)
	var out bytes.Buffer
	env := &tracers.Env{Format: output.Format{Mode: output.ModeColumns}, Stdout: &out}
	if err := printTree(env, procs); err != nil {
		t.Fatal(err)
	}
	if want := "web\n|-sh(11)\n\t|-sleep(13)\n\t|-sleep(12)\n"; !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Errorf("got:\n%s\nwant it to contain:\n%s", out.String(), want)
	}
}
