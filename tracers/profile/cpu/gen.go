package cpu

//go:generate go tool bpf2go -type sample_key -target bpfel profile profile.bpf.c
