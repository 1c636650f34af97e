package socket

//go:generate go tool bpf2go -type socket_record -type socket_owner -target bpfel socket socket.bpf.c
