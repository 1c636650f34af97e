package seccompprofile

//go:generate go tool bpf2go -target bpfel seccompprofile seccompprofile.bpf.c
