package oomkill

//go:generate go tool bpf2go -type oomkill_event -target bpfel oomkill oomkill.bpf.c
