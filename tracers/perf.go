package tracers

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// PerfEvent is the perf event a gadget's perf_event programs run on: one
// event per online CPU, sampled Frequency times a second. Program.Attach
// opens them; Detach closes them, which detaches the programs.
type PerfEvent struct {
	Type      uint32 // unix.PERF_TYPE_SOFTWARE, ...
	Config    uint64 // unix.PERF_COUNT_SW_CPU_CLOCK, ...
	Frequency uint64 // samples a second on each CPU
}

// CPUClock samples every CPU at hz, whatever runs there (profile cpu).
func CPUClock(hz uint64) *PerfEvent {
	return &PerfEvent{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK, Frequency: hz}
}

// attachPerfEvent opens pe on every online CPU and runs prog on each of its
// samples, through a BPF link where the kernel has them for perf events
// (5.15; bpftool and ig's lifecycle checks see the attachment), else with
// the PERF_EVENT_IOC_SET_BPF ioctl. It returns the events' descriptors and
// the links: closing them detaches prog.
func attachPerfEvent(prog *ebpf.Program, pe *PerfEvent) ([]int, []link.Link, error) {
	if pe == nil {
		return nil, nil, fmt.Errorf("a perf_event program needs the gadget's perf event")
	}
	cpus, err := onlineCPUs()
	if err != nil {
		return nil, nil, err
	}
	attr := unix.PerfEventAttr{
		Type:   pe.Type,
		Config: pe.Config,
		Size:   uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample: pe.Frequency,
		Bits:   unix.PerfBitFreq,
	}
	var fds []int
	var links []link.Link
	useLinks := true
	closeAll := func() {
		for _, l := range links {
			l.Close()
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	for _, cpu := range cpus {
		fd, err := unix.PerfEventOpen(&attr, -1, cpu, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("open perf event on CPU %d: %w", cpu, err)
		}
		fds = append(fds, fd)
		if useLinks {
			l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
			if err == nil {
				links = append(links, l)
				continue // the link enables the event
			}
			if len(links) > 0 {
				closeAll()
				return nil, nil, fmt.Errorf("attach to the perf event of CPU %d: %w", cpu, err)
			}
			useLinks = false // before 5.15: the ioctl
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_SET_BPF, prog.FD()); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("attach to the perf event of CPU %d: %w", cpu, err)
		}
		if err := unix.IoctlSetInt(fd, unix.PERF_EVENT_IOC_ENABLE, 0); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("enable the perf event of CPU %d: %w", cpu, err)
		}
	}
	return fds, links, nil
}

// onlineCPUs lists the online CPUs (/sys/devices/system/cpu/online: "0-3,5").
func onlineCPUs() ([]int, error) {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return nil, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("CPU list %q: bad range %q", s, part)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
