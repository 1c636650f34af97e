package exec

//go:generate go tool bpf2go -type exec_event -target bpfel exec exec.bpf.c
