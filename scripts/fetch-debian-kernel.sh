#!/bin/bash
# fetch-debian-kernel.sh: get Debian kernel packages without installing them.
#
# usage:
#   scripts/fetch-debian-kernel.sh --newest ERE [ERE...]
#       print, for each ERE, the newest package name matching it in full (sort -V);
#       fails if an ERE matches nothing
#   scripts/fetch-debian-kernel.sh PKG [PKG...]
#       download each package (once; later calls reuse the cached .deb) and print its .deb path
#   scripts/fetch-debian-kernel.sh --extract DIR PKG [PKG...]
#       download, then unpack each package into DIR/PKG (dpkg -x) and print that directory
#   --update before any of these refreshes the package index first.
#
# A private apt configuration (sources, lists, cache) under the cache directory adds Debian's
# bullseye, bookworm and trixie suites (and their -security/-updates/-backports) on the mirror
# this machine's apt already uses (read from its own apt sources). The host's apt setup is
# never touched.
#
# environment:
#   IG_KERNEL_CACHE            cache directory (default /var/cache/ig-build/kernels)
#   IG_KERNEL_INDEX_MAX_AGE    minutes before the index is refreshed by itself (default 1440)
#
# Packaging notes: up to 6.x, boot/vmlinuz-<rel> and boot/config-<rel> are in linux-image-<rel>;
# for 7.x (trixie-backports) the config and vmlinuz are in linux-base-<rel> / linux-binary-<rel>
# under usr/lib/modules/<rel>/.
set -euo pipefail

CACHE=${IG_KERNEL_CACHE:-/var/cache/ig-build/kernels}
MAX_AGE=${IG_KERNEL_INDEX_MAX_AGE:-1440}
APTDIR=$CACHE/apt
DEBDIR=$CACHE/debs

die() { echo "fetch-debian-kernel: $*" >&2; exit 1; }

# mirror_for SUFFIX: the first http(s) URI in this machine's apt sources whose path ends in
# /SUFFIX (deb822 "URIs:" lines and one-line "deb URI suite ..." lines).
mirror_for() {
	local suffix=$1 files
	files=$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
	[ -n "$files" ] || return 0
	# shellcheck disable=SC2086
	{
		sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' $files | tr ' ' '\n'
		sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' $files
	} | grep -E "^https?://[^[:space:]]+/${suffix}/?\$" | sed 's:/$::' | head -1
}

setup_apt() {
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial" "$DEBDIR"
	local main sec s
	main=$(mirror_for debian)
	[ -n "$main" ] || die "no Debian mirror found in this machine's apt sources"
	sec=$(mirror_for debian-security)
	{
		for s in bullseye bookworm bookworm-updates bookworm-backports trixie trixie-updates trixie-backports; do
			echo "deb $main $s main"
		done
		if [ -n "$sec" ]; then
			for s in bullseye-security bookworm-security trixie-security; do
				echo "deb $sec $s main"
			done
		fi
	} >"$APTDIR/sources.list.new"
	# a changed mirror or suite list invalidates the index
	if ! cmp -s "$APTDIR/sources.list.new" "$APTDIR/sources.list" 2>/dev/null; then
		mv "$APTDIR/sources.list.new" "$APTDIR/sources.list"
		rm -f "$APTDIR/lists/"*_Packages* "$APTDIR/lists/"*Release* 2>/dev/null || true
	else
		rm -f "$APTDIR/sources.list.new"
	fi
	APTO=(-o "Dir::Etc::sourcelist=$APTDIR/sources.list" -o Dir::Etc::sourceparts=/nonexistent
		-o "Dir::State::Lists=$APTDIR/lists" -o "Dir::Cache=$APTDIR/cache"
		-o Dir::State::status=/dev/null -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1
		-o APT::Sandbox::User=root -o Acquire::Languages=none
		-o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false)
}

update_index() {
	echo "fetch-debian-kernel: updating the package index in $APTDIR" >&2
	apt-get "${APTO[@]}" -qq update >&2 || die "apt-get update failed"
}

ensure_index() {
	local stamp
	stamp=$(ls "$APTDIR"/lists/*_Packages* 2>/dev/null | head -1 || true)
	if [ -z "$stamp" ] || [ -n "$(find "$stamp" -mmin +"$MAX_AGE" 2>/dev/null)" ]; then
		update_index
	fi
}

newest() {
	local ere=$1 name
	name=$(apt-cache "${APTO[@]}" search --names-only "^(${ere})\$" 2>/dev/null |
		sed 's/ - .*//' | grep -E "^(${ere})\$" | sort -uV | tail -1 || true)
	[ -n "$name" ] || die "no package matches ^(${ere})\$ in the index"
	echo "$name"
}

# download PKG: prints the cached .deb path (DEBDIR/PKG/*.deb)
download() {
	local pkg=$1 d deb
	d=$DEBDIR/$pkg
	deb=$(ls "$d"/*.deb 2>/dev/null | head -1 || true)
	if [ -z "$deb" ]; then
		mkdir -p "$d.tmp"
		rm -f "$d.tmp"/*.deb
		(cd "$d.tmp" && apt-get "${APTO[@]}" -qq download "$pkg" >&2) || die "download of $pkg failed"
		rm -rf "$d" && mv "$d.tmp" "$d"
		deb=$(ls "$d"/*.deb | head -1)
	fi
	echo "$deb"
}

update=0
if [ "${1:-}" = --update ]; then update=1; shift; fi
[ $# -gt 0 ] || die "usage: $0 [--update] (--newest ERE... | --extract DIR PKG... | PKG...)"

setup_apt
if [ $update = 1 ]; then update_index; else ensure_index; fi

case $1 in
--newest)
	shift
	for ere in "$@"; do newest "$ere"; done
	;;
--extract)
	[ $# -ge 3 ] || die "usage: $0 --extract DIR PKG..."
	out=$2; shift 2
	mkdir -p "$out"
	for pkg in "$@"; do
		deb=$(download "$pkg")
		rm -rf "${out:?}/$pkg"
		mkdir -p "$out/$pkg"
		dpkg -x "$deb" "$out/$pkg"
		echo "$out/$pkg"
	done
	;;
*)
	for pkg in "$@"; do download "$pkg"; done
	;;
esac
