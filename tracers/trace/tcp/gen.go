package tcp

//go:generate go tool bpf2go -type tcp_event -target bpfel tcp tcp.bpf.c
