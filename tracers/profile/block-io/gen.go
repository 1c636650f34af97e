package blockio

//go:generate go tool bpf2go -target bpfel blockio blockio.bpf.c
