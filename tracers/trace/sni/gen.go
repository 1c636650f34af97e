package sni

//go:generate go tool bpf2go -type sni_packet -target bpfel sni sni.bpf.c
