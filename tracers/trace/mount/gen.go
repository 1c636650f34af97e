package mount

//go:generate go tool bpf2go -type mount_event -target bpfel mount mount.bpf.c
