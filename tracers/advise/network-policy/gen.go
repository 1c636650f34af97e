package networkpolicy

//go:generate go tool bpf2go -target bpfel networkpolicy networkpolicy.bpf.c
