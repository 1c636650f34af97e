package dns

//go:generate go tool bpf2go -type dns_packet -target bpfel dns dns.bpf.c
