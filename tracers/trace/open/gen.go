package open

//go:generate go tool bpf2go -type open_event -target bpfel open open.bpf.c
