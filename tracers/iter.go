package tracers

import (
	"fmt"
	"io"

	"github.com/cilium/ebpf/link"
)

// RunIterator runs the iterator program name of p once and returns all it
// wrote with bpf_seq_write.
func (p *Program) RunIterator(name string) ([]byte, error) {
	prog := p.Coll.Programs[name]
	if prog == nil {
		return nil, fmt.Errorf("eBPF object has no program %s", name)
	}
	it, err := link.AttachIter(link.IterOptions{Program: prog})
	if err != nil {
		return nil, &AttachError{fmt.Errorf("attach iterator %s: %w", name, err)}
	}
	defer it.Close()
	rd, err := it.Open()
	if err != nil {
		return nil, fmt.Errorf("open iterator %s: %w", name, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("read iterator %s: %w", name, err)
	}
	return data, nil
}
