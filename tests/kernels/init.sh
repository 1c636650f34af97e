#!/bin/busybox sh
# /init of the kernel-matrix initramfs (tests/kernels/run.sh): mount what ig needs, run the
# guest program, print the end marker, power off. The guest's results go to /dev/ttyS1 (a file
# on the host), the console (ttyS0) keeps the human-readable log.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mkdir -p /proc /sys /dev /tmp /run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
ip link set lo up 2>/dev/null
stty -F /dev/ttyS1 raw -echo 2>/dev/null
echo "guest: kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime) s, RLIMIT_MEMLOCK $(ulimit -l) KiB"
/guest
echo "guest: exit status $?, uptime $(cut -d' ' -f1 /proc/uptime) s"
echo "===IG-KERNEL-TEST-END==="
poweroff -f
