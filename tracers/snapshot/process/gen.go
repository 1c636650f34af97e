package process

//go:generate go tool bpf2go -target bpfel process process.bpf.c
