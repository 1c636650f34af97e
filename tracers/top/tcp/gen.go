package tcp

//go:generate go tool bpf2go -type conn_key -type conn_stats -target bpfel tcp tcp.bpf.c
