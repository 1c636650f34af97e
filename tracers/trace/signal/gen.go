package signal

//go:generate go tool bpf2go -type signal_event -target bpfel signal signal.bpf.c
