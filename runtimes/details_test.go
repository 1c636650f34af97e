package runtimes

import (
	"os"
	"os/exec"
	"testing"
)

func TestDetailsHoldWhileTheProcessLives(t *testing.T) {
	var d Details
	me := Container{ID: "a", Name: "me", Pid: os.Getpid()}
	d.Put(me)
	if ct, ok := d.Get("a"); !ok || ct.Name != "me" {
		t.Fatalf("Get = %+v, %v", ct, ok)
	}
	// A process that has ended: its description is dropped.
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.Put(Container{ID: "b", Pid: cmd.Process.Pid})
	cmd.Wait()
	if _, ok := d.Get("b"); ok {
		t.Error("the description of a container whose process ended is still used")
	}
	d.Prune(map[string]bool{})
	if _, ok := d.Get("a"); ok {
		t.Error("Prune kept a container no longer listed")
	}
	if _, ok := processStart(os.Getpid()); !ok {
		t.Error("no start time for this process")
	}
}
