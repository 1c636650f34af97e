package tcpretrans

//go:generate go tool bpf2go -type retrans_event -target bpfel tcpretrans tcpretrans.bpf.c
