package oomkill

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/ig-tracer/ig/btf/btftest"
	"github.com/ig-tracer/ig/tracers"
)

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(oomkillOomkillEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func TestDecode(t *testing.T) {
	var raw oomkillOomkillEvent
	raw.Hdr.Pid, raw.Hdr.Tid = 10, 10
	copy(raw.Hdr.Comm[:], "dd\x00")
	raw.Pages, raw.Tpid, raw.Tuid, raw.Tgid = 8000, 11, 1000, 100
	copy(raw.Tcomm[:], "java\x00")
	raw.MemcgLimit, raw.MemcgUsage = 8192, 8190
	rec := unsafe.Slice((*byte)(unsafe.Pointer(&raw)), eventSize)
	d := &decoder{clock: tracers.NewClock(), pageSize: 4096}
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(append([]byte(nil), rec...), &ev) {
		t.Fatal("decode failed")
	}
	if ev.KilledPid != 10 || ev.KilledComm != "dd" || ev.Pages != 8000 || ev.TriggeredPid != 11 || ev.TriggeredUid != 1000 ||
		ev.TriggeredGid != 100 || ev.TriggeredComm != "java" || ev.MemcgLimit != 32<<20 || ev.MemcgUsage != 8190*4096 {
		t.Errorf("decoded %+v", ev)
	}
	raw.MemcgLimit = pageCounterMax // no limit
	if !tracers.Decoder[Event](d.decode).Into(append([]byte(nil), rec...), &ev) || ev.MemcgLimit != 0 {
		t.Errorf("a cgroup without a limit: memcgLimit %d, want 0", ev.MemcgLimit)
	}
}

// kernelWith is kernel BTF with mark_victim's typedef taking arg.
func kernelWith(t *testing.T, arg btf.Type) *btf.Spec {
	t.Helper()
	spec, err := btftest.RawTracepoint("mark_victim", arg)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestVictimPassed(t *testing.T) {
	task := &btf.Pointer{Target: &btf.Struct{Name: "task_struct"}}
	if err := victimPassed(kernelWith(t, task)); err != nil {
		t.Errorf("mark_victim(struct task_struct *): %v", err)
	}
	pid := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	if err := victimPassed(kernelWith(t, pid)); err == nil {
		t.Error("mark_victim(int pid): no error; the tp_btf variant would read the pid as a task")
	}
}
