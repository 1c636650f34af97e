package tcpconnect

//go:generate go tool bpf2go -type connect_event -target bpfel tcpconnect tcpconnect.bpf.c
