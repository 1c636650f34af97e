package btftest

import (
	"bytes"

	"github.com/cilium/ebpf/btf"
)

// RawTracepoint returns kernel BTF with just the typedef the kernel makes
// for raw tracepoint name (btf_trace_<name>): a pointer to a function of
// a context pointer and args, as tp_btf programs see them. Gadgets that
// check a tracepoint's arguments in the running kernel's BTF test on it.
func RawTracepoint(name string, args ...btf.Type) (*btf.Spec, error) {
	params := []btf.FuncParam{{Type: &btf.Pointer{Target: &btf.Void{}}}}
	for _, a := range args {
		params = append(params, btf.FuncParam{Type: a})
	}
	proto := &btf.FuncProto{Return: &btf.Void{}, Params: params}
	b, err := btf.NewBuilder([]btf.Type{&btf.Typedef{Name: "btf_trace_" + name, Type: &btf.Pointer{Target: proto}}}, nil)
	if err != nil {
		return nil, err
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		return nil, err
	}
	return btf.LoadSpecFromReader(bytes.NewReader(raw))
}
