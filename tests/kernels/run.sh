#!/bin/bash
# make kernels: run ig's gadgets inside real Debian kernels and regenerate testdata/kernel-matrix.json.
#
# Each kernel of tests/kernels/kernels.list is booted under qemu's software emulation (TCG:
# /dev/kvm on this machine kind cannot run them) with one initramfs holding busybox, ig (`make
# ig`), the guest program (tests/kernels/guest) and every kernel's config. The guest runs `ig
# requirements` and every implemented gadget against a workload it must catch, and writes its
# results to a second serial port. tests/kernels/matrix/cmd then checks them against the
# guest's own requirements verdicts (a gadget said to work must work, one said not to must
# refuse with exactly the stated reason) and writes the matrix.
#
# It writes testdata/kernel-matrix.json (and README.md's kernel-matrix block) from what ran, with
# any failure in it; the exit status is 0 only when every kernel booted and every check passed.
#
# environment:
#   IG_KERNEL_CACHE         where .debs and extracted kernels are kept (default /var/cache/ig-build/kernels)
#   IG_KERNEL_JOBS          kernels booted at once (default 2)
#   IG_KERNEL_BOOT_TIMEOUT  seconds one boot may take (default 240)
#   IG_KERNEL_TCG           qemu's -accel value (default tcg,thread=single: with thread=multi, the
#                           guests' live kernel text patching (int3) oopses in about one boot in five)
#   IG_KERNEL_LOGS          keep the logs here (default: a new directory under /tmp, removed after a
#                           green run, kept and printed after a failure)
#   IG_KERNEL_ONLY          boot only the kernels whose first package matches this ERE (the matrix is
#                           then written to the logs directory, not testdata/)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
t0=$(date +%s.%N)

CACHE=${IG_KERNEL_CACHE:-/var/cache/ig-build/kernels}
TREES=$CACHE/trees
JOBS=${IG_KERNEL_JOBS:-2}
BOOT_TIMEOUT=${IG_KERNEL_BOOT_TIMEOUT:-240}
TCG=${IG_KERNEL_TCG:-tcg,thread=single}
LIST=tests/kernels/kernels.list
OUT=testdata/kernel-matrix.json
END_MARKER='===IG-KERNEL-TEST-END==='

say() { echo "kernels: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- tools -------------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
fi

LOGS=${IG_KERNEL_LOGS:-$(mktemp -d /tmp/ig-kernels.XXXXXX)}
mkdir -p "$LOGS"
WORK=$(mktemp -d /tmp/ig-kernels-work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# --- binaries ------------------------------------------------------------------------------
make -s ig
CGO_ENABLED=0 go build -trimpath -o "$WORK/guest" ./tests/kernels/guest
go build -o "$WORK/matrix" ./tests/kernels/matrix/cmd
say "built ig and the guest ($(since "$t0") s)"

# --- kernels: fetch and extract once (the trees stay in the cache) -------------------------
# kernels.list lines: SUITE PKG[,PKG] [embedded]
names=() suites=() pkgsets=() flags=()
while read -r suite pkgs flag _; do
	case $suite in '' | '#'*) continue ;; esac
	first=${pkgs%%,*}
	if [ -n "${IG_KERNEL_ONLY:-}" ] && ! [[ $first =~ $IG_KERNEL_ONLY ]]; then continue; fi
	names+=("$first") suites+=("$suite") pkgsets+=("$pkgs") flags+=("${flag:-}")
done <"$LIST"
[ ${#names[@]} -gt 0 ] || die "no kernel in $LIST${IG_KERNEL_ONLY:+ matches $IG_KERNEL_ONLY}"

for pkgs in "${pkgsets[@]}"; do
	for pkg in ${pkgs//,/ }; do
		[ -f "$TREES/$pkg/.ig-extracted" ] && continue
		bash scripts/fetch-debian-kernel.sh --extract "$TREES" "$pkg" >/dev/null
		deb=$(bash scripts/fetch-debian-kernel.sh "$pkg")
		dpkg-deb -f "$deb" Version >"$TREES/$pkg/.ig-extracted"
	done
done

# kernel_file PKGS NAME: the path of vmlinuz or config in the package trees
kernel_file() {
	local pkg f
	for pkg in ${1//,/ }; do
		f=$(find "$TREES/$pkg" \( -path "*/boot/$2-*" -o -path "*/lib/modules/*/$2" \) -type f 2>/dev/null | sort | head -1)
		[ -n "$f" ] && { echo "$f"; return; }
	done
	return 1
}

# --- one initramfs for every kernel ----------------------------------------------------------
root=$WORK/root
mkdir -p "$root"/{bin,sbin,boot,proc,sys,dev,tmp,run}
cp /bin/busybox "$root/bin/busybox"
cp tests/kernels/init.sh "$root/init"
cp ig "$root/ig"
cp "$WORK/guest" "$root/guest"
chmod 755 "$root/init" "$root/ig" "$root/guest"
mknod -m 600 "$root/dev/console" c 5 1
declare -a vmlinuz releases
for i in "${!names[@]}"; do
	v=$(kernel_file "${pkgsets[$i]}" vmlinuz) || die "no vmlinuz in ${pkgsets[$i]}"
	c=$(kernel_file "${pkgsets[$i]}" config) || die "no kernel config in ${pkgsets[$i]}"
	case $v in
	*/boot/vmlinuz-*) rel=${v##*/vmlinuz-} ;;
	*) rel=$(basename "$(dirname "$v")") ;;
	esac
	vmlinuz[i]=$v releases[i]=$rel
	cp "$c" "$root/boot/config-$rel"
done
INITRD=$WORK/initrd.cpio # uncompressed: no decompression under emulation
(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) >"$INITRD"
say "initramfs: $(($(stat -c %s "$INITRD") / 1048576)) MiB, ${#names[@]} kernels ($(since "$t0") s)"

# --- boot -------------------------------------------------------------------------------------
# boot I: boots kernel I (retried once if it dies before the end marker); writes
# $LOGS/NAME.{console,results,meta}. Always returns 0: the matrix tool judges.
boot() {
	local i=$1 name=${names[$1]} append="console=ttyS0 quiet panic=-1" attempt start rc=0
	local base=$LOGS/$name
	[ "${flags[$i]}" = embedded ] && append+=" ig.embedded=1"
	start=$(date +%s.%N)
	# A scratch disk for the block I/O gadgets' workloads: NVMe, which every
	# kernel of the list has built in (virtio-blk is a module). Its serial
	# tells the workloads it is theirs to overwrite (workloads.ScratchSerial).
	local disk=$WORK/$name.disk
	truncate -s 16M "$disk"
	for attempt in 1 2; do
		rm -f "$base.console" "$base.results"
		timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -accel "$TCG" -cpu max -m 1024 -smp 2 \
			-nographic -no-reboot -monitor none -serial stdio -serial "file:$base.results" \
			-drive "file=$disk,if=none,id=scratch,format=raw" -device "nvme,serial=ig-scratch,drive=scratch" \
			-kernel "${vmlinuz[$i]}" -initrd "$INITRD" -append "$append" \
			</dev/null >"$base.console" 2>&1 || rc=$?
		grep -q "$END_MARKER" "$base.console" && break
		if [ $attempt = 1 ]; then
			say "$name: the guest died before its end marker (qemu exit $rc); booting it again. Its log: $base.attempt1.console"
			mv "$base.console" "$base.attempt1.console"
			mv "$base.results" "$base.attempt1.results" 2>/dev/null || true
		fi
	done
	{
		echo "suite=${suites[$i]}"
		echo "packages=${pkgsets[$i]}"
		echo "release=${releases[$i]}"
		echo "version=$(cat "$TREES/$name/.ig-extracted")"
		echo "embedded=$([ "${flags[$i]}" = embedded ] && echo 1 || echo 0)"
		echo "attempts=$attempt"
		echo "seconds=$(since "$start")"
	} >"$base.meta"
	say "$name: booted and tested in $(since "$start") s (attempt $attempt)"
}

for i in "${!names[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
	boot "$i" &
done
wait
say "all kernels booted ($(since "$t0") s)"

# --- check and write the matrix ---------------------------------------------------------------
out=$OUT
[ -n "${IG_KERNEL_ONLY:-}" ] && out=$LOGS/kernel-matrix.json
status=0
"$WORK/matrix" -list "$LIST" -logs "$LOGS" -out "$out" ${IG_KERNEL_ONLY:+-partial} || status=$?
# README.md's kernel matrix block is the matrix rendered (TestReadmeKernelMatrix checks it).
if [ -z "${IG_KERNEL_ONLY:-}" ] && [ -f "$out" ] && grep -q '^<!-- kernel-matrix:begin -->$' README.md; then
	"$WORK/matrix" -readme README.md "$out"
fi
if [ $status = 0 ]; then
	# A green run's logs are only kept where IG_KERNEL_LOGS asked for them.
	if [ -z "${IG_KERNEL_LOGS:-}" ]; then rm -rf "$LOGS"; else say "logs: $LOGS"; fi
	say "wrote $out; done in $(since "$t0") s"
else
	say "FAILED (see above; logs in $LOGS); $out written, with the failures in it. Total $(since "$t0") s"
fi
exit $status
