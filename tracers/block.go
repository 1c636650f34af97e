package tracers

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/cilium/ebpf/btf"

	igbtf "github.com/ig-tracer/ig/btf"
)

// BlockRequestConsts are the constants of bpf/block.h for the running
// kernel: whether block_rq_insert and block_rq_issue pass the request as
// their second argument (before 5.11: queue, request) or their first.
// The kernel's own BTF says, as the tp_btf programs need it anyway.
func BlockRequestConsts() (map[string]any, error) {
	kernel, err := igbtf.KernelCache().Kernel()
	if err != nil {
		return nil, fmt.Errorf("block tracepoints: kernel BTF: %w", err)
	}
	second, err := blockRequestIsSecond(kernel)
	if err != nil {
		return nil, err
	}
	return map[string]any{"rq_second_arg": second}, nil
}

// blockRequestIsSecond reads block_rq_issue's raw tracepoint prototype:
// (void *, struct request_queue *, struct request *) before 5.11,
// (void *, struct request *) since.
func blockRequestIsSecond(kernel *btf.Spec) (bool, error) {
	var tp *btf.Typedef
	if err := kernel.TypeByName("btf_trace_block_rq_issue", &tp); err != nil {
		return false, fmt.Errorf("tp_btf/block_rq_issue: %w", err)
	}
	if ptr, ok := btf.UnderlyingType(tp).(*btf.Pointer); ok {
		if proto, ok := ptr.Target.(*btf.FuncProto); ok {
			for i, p := range proto.Params {
				if i == 0 {
					continue // the tracepoint's data
				}
				if arg, ok := btf.UnderlyingType(p.Type).(*btf.Pointer); ok {
					if st, ok := btf.UnderlyingType(arg.Target).(*btf.Struct); ok && st.Name == "request" {
						return i == 2, nil
					}
				}
			}
		}
	}
	return false, fmt.Errorf("tp_btf/block_rq_issue: no struct request among its arguments in this kernel's BTF")
}

// DiskName is the name the kernel gives block device major:minor (vda,
// sda, nvme0n1), from /sys/dev/block/M:m/uevent; "major:minor" when it
// has none (the device is gone).
func DiskName(major, minor uint32) string {
	return diskName("/sys/dev/block", major, minor)
}

func diskName(sysDevBlock string, major, minor uint32) string {
	devt := fmt.Sprintf("%d:%d", major, minor)
	f, err := os.Open(fmt.Sprintf("%s/%s/uevent", sysDevBlock, devt))
	if err != nil {
		return devt
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), "DEVNAME="); ok && name != "" {
			return name
		}
	}
	return devt
}
