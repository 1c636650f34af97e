package fsslower

//go:generate go tool bpf2go -type fs_event -target bpfel fsslower fsslower.bpf.c
