package file

//go:generate go tool bpf2go -type file_key -type file_stats -target bpfel file file.bpf.c
