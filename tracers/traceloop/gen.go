package traceloop

//go:generate go tool bpf2go -target bpfel traceloop traceloop.bpf.c
