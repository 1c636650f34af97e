package bind

//go:generate go tool bpf2go -type bind_event -target bpfel bind bind.bpf.c
