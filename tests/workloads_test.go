package tests

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tests/workloads"
)

// TestWorkloads runs, on this host, the workload of every gadget ig says it
// implements: the very table the kernel guests run (tests/workloads), so a
// workload is proven here before it runs in the guests, and a gadget
// without one fails here too.
func TestWorkloads(t *testing.T) {
	bin := igBinary(t)
	r := runIG(t, "requirements", "-o", "json")
	checkSuccess(t, r)
	var reqs []struct {
		Gadget      string `json:"gadget"`
		Implemented bool   `json:"implemented"`
	}
	if err := json.Unmarshal(r.Stdout, &reqs); err != nil {
		t.Fatal(err)
	}
	busybox, err := filepath.EvalSymlinks(requireTool(t, "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	host := workloads.Host{Comm: testComm(t), Busybox: busybox}
	n := 0
	for _, req := range reqs {
		if !req.Implemented {
			continue
		}
		n++
		t.Run(req.Gadget, func(t *testing.T) {
			work, ok := workloads.Table[req.Gadget]
			if !ok {
				t.Fatalf("%s has no workload in tests/workloads", req.Gadget)
			}
			run := &workloads.Run{IG: bin, Gadget: req.Gadget, Tag: unique(strings.ReplaceAll(req.Gadget, " ", "-")),
				AttachTimeout: attachTimeout, EventTimeout: 10 * time.Second, StopTimeout: stopTimeout}
			detail, err := work(run, host)
			if run.Started() {
				run.Stop()
			}
			if err != nil {
				t.Fatalf("%v\nig's stderr:\n%s", err, run.Stderr())
			}
			t.Log(detail)
		})
	}
	if n == 0 {
		t.Fatal("ig requirements lists no implemented gadget")
	}
}
