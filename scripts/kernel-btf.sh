#!/bin/bash
# kernel-btf.sh: the full BTF of a Debian kernel, from its package, without installing it.
#
# usage: scripts/kernel-btf.sh RELEASE [RELEASE...]
#   prints, for each kernel release (`uname -r` of that kernel, e.g. 6.1.0-56-cloud-amd64), the
#   path of a raw BTF file holding that kernel's .BTF section. The package (linux-image-RELEASE
#   up to 6.x, linux-binary-RELEASE for 7.x) comes from scripts/fetch-debian-kernel.sh; the ELF
#   vmlinux is unpacked from its vmlinuz (the compression of CONFIG_KERNEL_*, found by its magic
#   bytes) and its .BTF section kept as $IG_KERNEL_CACHE/btf/RELEASE.btf, so a second call
#   costs nothing.
#
# make btfgen minimizes these files into btf/embedded/, and the btf package's tests relocate
# ig's objects against both, so each embedded file is checked against its own kernel.
#
# environment: IG_KERNEL_CACHE (default /var/cache/ig-build/kernels), as fetch-debian-kernel.sh.
# Needs: apt-get, dpkg-deb, readelf, objcopy (binutils), gzip, xz, lz4, zstd.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FETCH=$ROOT/scripts/fetch-debian-kernel.sh
CACHE=${IG_KERNEL_CACHE:-/var/cache/ig-build/kernels}
OUT=$CACHE/btf

die() { echo "kernel-btf: $*" >&2; exit 1; }
log() { echo "kernel-btf: $*" >&2; }

[ $# -gt 0 ] || die "usage: $0 RELEASE..."
declare -A PKG_OF=([readelf]=binutils [objcopy]=binutils [xz]=xz-utils [lz4]=lz4 [zstd]=zstd [dpkg-deb]=dpkg)
for t in apt-get dpkg-deb readelf objcopy gzip xz lz4 zstd; do
	command -v "$t" >/dev/null || die "$t not found (apt-get install ${PKG_OF[$t]:-$t})"
done

# extract_vmlinux VMLINUZ CONFIG OUT: unpack the ELF vmlinux (with a .BTF section) from a
# bzImage. The compression named by CONFIG_KERNEL_* is tried first, then the others.
extract_vmlinux() {
	local vmlinuz=$1 config=$2 out=$3 want c magic dec off
	want=$(sed -n 's/^CONFIG_KERNEL_\(GZIP\|BZIP2\|LZMA\|XZ\|LZO\|LZ4\|ZSTD\)=y$/\1/p' "$config" | head -1)
	for c in $want GZIP XZ ZSTD LZ4 LZMA BZIP2 LZO; do
		case $c in
		GZIP) magic='\x1f\x8b\x08' dec='gzip -dc' ;;
		XZ) magic='\xfd\x37\x7a\x58\x5a\x00' dec='xz -dc' ;;
		ZSTD) magic='\x28\xb5\x2f\xfd' dec='zstd -dcq' ;;
		LZ4) magic='\x02\x21\x4c\x18' dec='lz4 -dcq' ;;
		LZMA) magic='\x5d\x00\x00\x00' dec='xz -dc --format=lzma' ;;
		BZIP2) magic='BZh' dec='bzip2 -dc' ;;
		LZO) magic='\x89\x4c\x5a\x4f' dec='lzop -dc' ;;
		esac
		command -v "${dec%% *}" >/dev/null || continue
		for off in $(grep -aboP "$magic" "$vmlinuz" | cut -d: -f1); do
			# trailing bytes after the stream make some decompressors fail after writing it all
			tail -c +$((off + 1)) "$vmlinuz" | $dec >"$out" 2>/dev/null || true
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] &&
				[[ $(readelf -S "$out" 2>/dev/null) == *" .BTF "* ]]; then
				log "$(basename "$vmlinuz"): ${c,,} stream at offset $off${want:+ (CONFIG_KERNEL_$want)}"
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}

mkdir -p "$OUT"
for rel in "$@"; do
	case $rel in '' | .* | */*) die "not a kernel release: '$rel'" ;; esac
	btf=$OUT/$rel.btf
	if [ ! -s "$btf" ]; then
		case $rel in
		[0-6].*) pkg=linux-image-$rel cfgpkg=$pkg ;;
		*) pkg=linux-binary-$rel cfgpkg=linux-base-$rel ;;
		esac
		work=$(mktemp -d /tmp/ig-kernel-btf.XXXXXX)
		for p in $pkg $cfgpkg; do
			deb=$("$FETCH" "$p") || die "download of $p failed"
			# only what we need: boot/ (<= 6.x) or usr/lib/modules/*/{config,vmlinuz} (7.x)
			dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards --no-wildcards-match-slash \
				'./boot/*' './usr/lib/modules/*/config' './usr/lib/modules/*/vmlinuz' 2>/dev/null || true
		done
		vmlinuz=$(ls "$work"/boot/vmlinuz-"$rel" "$work"/usr/lib/modules/"$rel"/vmlinuz 2>/dev/null | head -1 || true)
		config=$(ls "$work"/boot/config-"$rel" "$work"/usr/lib/modules/"$rel"/config 2>/dev/null | head -1 || true)
		[ -n "$vmlinuz" ] && [ -n "$config" ] || { rm -rf "$work"; die "$pkg: no vmlinuz or config for $rel"; }
		extract_vmlinux "$vmlinuz" "$config" "$work/vmlinux" || { rm -rf "$work"; die "$pkg: no vmlinux with .BTF in $vmlinuz"; }
		objcopy --dump-section .BTF="$work/btf" "$work/vmlinux" /dev/null ||
			{ rm -rf "$work"; die "objcopy of .BTF failed for $rel"; }
		[ "$(head -c 2 "$work/btf" | od -An -tx1 | tr -d ' \n')" = 9feb ] || { rm -rf "$work"; die "$rel: .BTF does not start with the BTF magic"; }
		mv "$work/btf" "$btf"
		rm -rf "$work"
		log "$rel: $(stat -c %s "$btf") bytes of BTF -> $btf"
	fi
	echo "$btf"
done
