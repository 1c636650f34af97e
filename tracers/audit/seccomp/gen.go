package seccomp

//go:generate go tool bpf2go -type seccomp_event -target bpfel seccomp seccomp.bpf.c
