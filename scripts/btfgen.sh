#!/bin/bash
# btfgen.sh: regenerate the minimized kernel BTF embedded in ig (btf/embedded/<release>.btf)
# and the real kernel configs under testdata/kernel-configs/.
#
# usage: scripts/btfgen.sh [--configs-only] [OBJ.o...]
#
# BTF: `bpftool gen min_core_btf` keeps only the types our eBPF objects relocate against, so
# each file is a few KB. Objects: the given OBJ.o files, else every tracers/**/*_bpfel.o
# (arm64-only objects, *_arm64_bpfel.o, are left out: these kernels are x86_64). Kernels: the
# newest ABI of Debian 12 (bookworm)'s linux-image-6.1.0-N-{amd64,cloud-amd64} and
# linux-image-6.12.X+deb12-{amd64,cloud-amd64}; their full BTF comes from
# scripts/kernel-btf.sh (the .BTF section of the package's vmlinux). The machine that runs
# this never adds its own kernel: builds of it differ from machine to machine, and a kernel
# with /sys/kernel/btf/vmlinux does not need it. The btf package's tests check each file
# against its own kernel's full BTF (TestEmbeddedBTFCurrent).
# The previous btf/embedded/*.btf set is replaced by the new one.
#
# Configs (gzip -9n) in testdata/kernel-configs/config-<release>.gz: the kernels above, this
# host's /proc/config.gz, the newest bullseye 5.10 cloud kernel and the newest trixie-backports
# 7.x cloud kernel; plus a plain (uncompressed) copy of the 6.1 cloud config.
# --configs-only refreshes just the configs.
#
# Packages come from scripts/fetch-debian-kernel.sh (cache: $IG_KERNEL_CACHE, default
# /var/cache/ig-build/kernels). Needs: bpftool, apt-get, dpkg-deb, readelf, gzip, xz, lz4, zstd.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FETCH=$ROOT/scripts/fetch-debian-kernel.sh
BTFDIR=$ROOT/btf/embedded
CFGDIR=$ROOT/testdata/kernel-configs

configs_only=0
objs=()
for a in "$@"; do
	case $a in
	--configs-only) configs_only=1 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "btfgen: unknown option $a" >&2; exit 2 ;;
	*) objs+=("$(readlink -f "$a")") ;;
	esac
done

die() { echo "btfgen: $*" >&2; exit 1; }
log() { echo "btfgen: $*" >&2; }

# Packages whose BTF we embed, then packages we only take the config of (EREs for --newest).
BTF_PKGS=(
	'linux-image-6\.1\.0-[0-9]+-amd64'
	'linux-image-6\.1\.0-[0-9]+-cloud-amd64'
	'linux-image-6\.12\.[0-9]+\+deb12-amd64'
	'linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64'
)
CFG_PKGS=(
	'linux-image-5\.10\.0-[0-9]+-cloud-amd64'
	'linux-base-7\.[0-9.]+\+deb13-cloud-amd64'
)

need() { for t in "$@"; do command -v "$t" >/dev/null || die "$t not found (apt-get install ${PKG_OF[$t]:-$t})"; done; }
declare -A PKG_OF=([bpftool]=bpftool [readelf]=binutils [xz]=xz-utils [lz4]=lz4 [zstd]=zstd [dpkg-deb]=dpkg)
need apt-get dpkg-deb gzip
if [ $configs_only = 0 ]; then
	need bpftool readelf xz lz4 zstd
	if [ ${#objs[@]} = 0 ]; then
		mapfile -t objs < <(find "$ROOT/tracers" -name '*_bpfel.o' ! -name '*_arm64_bpfel.o' 2>/dev/null | sort)
	fi
	[ ${#objs[@]} -gt 0 ] || die "no eBPF objects (tracers/**/*_bpfel.o): build them first, or pass OBJ.o files"
	for o in "${objs[@]}"; do [ -r "$o" ] || die "cannot read $o"; done
	log "objects: ${objs[*]#"$ROOT/"}"
fi

WORK=$(mktemp -d /tmp/ig-btfgen.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/btf" "$CFGDIR"

# save_config SRC RELEASE: testdata/kernel-configs/config-RELEASE.gz (SRC plain or gzip)
save_config() {
	local src=$1 rel=$2 out=$CFGDIR/config-$2.gz
	if gzip -t "$src" 2>/dev/null; then gzip -dc "$src"; else cat "$src"; fi | gzip -9n >"$out.tmp"
	mv "$out.tmp" "$out"
	log "config $rel -> ${out#"$ROOT/"} ($(stat -c %s "$out") bytes)"
}

# min_btf INPUT RELEASE: minimized BTF into $WORK/btf/RELEASE.btf
min_btf() {
	bpftool gen min_core_btf "$1" "$WORK/btf/$2.btf" "${objs[@]}" >/dev/null ||
		die "bpftool gen min_core_btf failed for $2"
}

start=$SECONDS
mapfile -t btf_pkgs < <("$FETCH" --newest "${BTF_PKGS[@]}") || die "package lookup failed"
mapfile -t cfg_pkgs < <("$FETCH" --newest "${CFG_PKGS[@]}") || die "package lookup failed"
[ ${#btf_pkgs[@]} = ${#BTF_PKGS[@]} ] && [ ${#cfg_pkgs[@]} = ${#CFG_PKGS[@]} ] || die "package lookup failed"
log "packages: ${btf_pkgs[*]} ${cfg_pkgs[*]}"

for pkg in "${btf_pkgs[@]}" "${cfg_pkgs[@]}"; do
	t0=$SECONDS
	deb=$("$FETCH" "$pkg") || die "download of $pkg failed"
	x=$WORK/x/$pkg
	mkdir -p "$x"
	# only the members we need: boot/ (<= 6.x) or usr/lib/modules/*/config (7.x linux-base)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards --no-wildcards-match-slash \
		'./boot/*' './usr/lib/modules/*/config' './usr/lib/modules/*/vmlinuz' 2>/dev/null || true
	config=$(ls "$x"/boot/config-* "$x"/usr/lib/modules/*/config 2>/dev/null | head -1 || true)
	[ -n "$config" ] || die "$pkg: no kernel config inside $deb"
	case $config in
	*/boot/config-*) rel=${config##*/config-} ;;
	*) rel=$(basename "$(dirname "$config")") ;;
	esac
	save_config "$config" "$rel"
	case $rel in 6.1.0-*-cloud-amd64)
		# one plain copy, for tests of reading an uncompressed config
		install -m 0644 "$config" "$CFGDIR/config-$rel"
		log "config $rel -> testdata/kernel-configs/config-$rel (plain, $(stat -c %s "$config") bytes)"
		;;
	esac

	is_btf=0
	for p in "${btf_pkgs[@]}"; do [ "$p" = "$pkg" ] && is_btf=1; done
	if [ $configs_only = 0 ] && [ $is_btf = 1 ]; then
		full=$("$ROOT/scripts/kernel-btf.sh" "$rel") || die "$pkg: no BTF"
		min_btf "$full" "$rel"
		log "  BTF $rel: $(stat -c %s "$WORK/btf/$rel.btf") bytes"
	fi
	rm -rf "$x"
	log "  $pkg done in $((SECONDS - t0)) s"
done

host=$(uname -r)
if [ -r /proc/config.gz ]; then
	save_config /proc/config.gz "$host"
elif [ -r "/boot/config-$host" ]; then
	save_config "/boot/config-$host" "$host"
else
	log "no config for this host's kernel $host (/proc/config.gz, /boot/config-$host): skipped"
fi

if [ $configs_only = 0 ]; then
	mkdir -p "$BTFDIR"
	for f in "$BTFDIR"/*.btf; do
		[ -e "$f" ] || continue
		[ -e "$WORK/btf/${f##*/}" ] || { rm -f "$f"; log "removed stale ${f#"$ROOT/"}"; }
	done
	for f in "$WORK"/btf/*.btf; do
		install -m 0644 "$f" "$BTFDIR/${f##*/}"
	done
fi

echo "generated in $((SECONDS - start)) s:"
if [ $configs_only = 0 ]; then
	(cd "$ROOT" && ls -l btf/embedded/*.btf | awk '{printf "  %8d  %s\n", $5, $9}')
fi
(cd "$ROOT" && ls -l testdata/kernel-configs/config-* | awk '{printf "  %8d  %s\n", $5, $9}')
