package tcpdrop

//go:generate go tool bpf2go -type drop_event -target bpfel tcpdrop tcpdrop.bpf.c
