package tcprtt

//go:generate go tool bpf2go -type hist_key -type ig_hist -target bpfel tcprtt tcprtt.bpf.c
