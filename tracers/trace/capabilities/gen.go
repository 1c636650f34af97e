package capabilities

//go:generate go tool bpf2go -type cap_event -target bpfel capabilities capabilities.bpf.c
//go:generate bash ../../../scripts/gen-names.sh capabilities /usr/include/linux/capability.h capabilities capNames capnames.go
