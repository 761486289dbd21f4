#!/bin/bash
# Fetch newer containerd (and OCI runtime) builds from Debian's trixie and
# sid suites into a versioned cache, WITHOUT installing them:
#
#   $PODSHIM_CACHE/containerd-1.7.24/usr/bin/{containerd,ctr,containerd-shim-runc-v2}
#   $PODSHIM_CACHE/containerd-2.1.9/usr/bin/{containerd,ctr,containerd-shim-runc-v2}
#
# The e2e harness runs these with PODSHIM_CONTAINERD=1.7.24 or 2.1.9 (see
# tests/e2e/harness.py); each version's own containerd-shim-runc-v2 is the
# reference shim for that version.
#
# How: apt gets a private configuration under $PODSHIM_CACHE/apt (its own
# sources list naming the suites below on the machine's own Debian mirror,
# its own lists, cache, empty dpkg status and no /etc/apt parts), updates
# those lists (the Release files are verified with the Debian archive
# keyring), `apt-get download`s the pinned versions (apt checks each .deb's
# SHA-256 against the signed index; this script checks it again) and unpacks
# each one with `dpkg-deb -x`. Nothing is installed, no maintainer script
# runs, /etc/apt and /var/lib/{apt,dpkg} are not touched.
#
# Idempotent: an item whose directory holds a stamp for the same pins is
# skipped. Items are unpacked to a temp dir and renamed into place, under a
# lock, so concurrent runs (several worktrees) are safe.
#
# Usage: scripts/fetch-containerd.sh [--policy] [ITEM...]   (root)
#   ITEM     default: containerd-1.7.24 containerd-2.1.9; see `items` below
#            for runc-1.3.6, crun-1.28 and the Go sources; "all" for all
#   --policy update the private lists and print `apt-cache policy` of every
#            pinned package (to find new versions when a pin has gone)
# Environment: PODSHIM_CACHE (default /var/cache/podshim),
#   PODSHIM_DEBIAN_MIRROR (default: the machine's own Debian mirror).
set -euo pipefail

cache=${PODSHIM_CACHE:-/var/cache/podshim}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

# Items: suite and package=version pins. The versions are exact; when a
# suite has moved on to another Debian revision of the same upstream version
# that revision is taken with a warning, anything else fails with the list
# of what the suite has now (sid moves; update the pin).
declare -A suite pins
suite[containerd-1.7.24]=trixie
pins[containerd-1.7.24]="containerd=1.7.24~ds1-6+deb13u1"
suite[containerd-2.1.9]=sid
pins[containerd-2.1.9]="containerd=2.1.9+ds1-5"
# sid's runc and crun are built against glibc >= 2.38 (bookworm has 2.36):
# they are unpacked with sid's libc6 and their ELF interpreter and RUNPATH
# are pointed at it (patchelf), so they run on bookworm. They re-exec
# themselves through /proc/self/exe, which a loader wrapper would break.
suite[runc-1.3.6]=sid
pins[runc-1.3.6]="runc=1.3.6+ds1-1 libc6=2.43-7"
suite[crun-1.28]=sid
pins[crun-1.28]="crun=1.28-1 libc6=2.43-7 libblake3-0=1.8.2-1"
# containerd's Go sources of each version (the -dev package), to read
suite[containerd-src-1.7.24]=trixie
pins[containerd-src-1.7.24]="golang-github-containerd-containerd-dev=1.7.24~ds1-6+deb13u1"
suite[containerd-src-2.1.9]=sid
pins[containerd-src-2.1.9]="golang-github-containerd-containerd-dev=2.1.9+ds1-5"
# 2.x's API module (api/types, api/runtime): the protos 2.1 speaks, which
# tests/proto/check_wire_compat.py compares ours against
suite[containerd-api-src-2.1.9]=sid
pins[containerd-api-src-2.1.9]="golang-github-containerd-containerd-api-dev=2.1.9+ds1-5"
items=(containerd-1.7.24 containerd-2.1.9 runc-1.3.6 crun-1.28
	containerd-src-1.7.24 containerd-src-2.1.9 containerd-api-src-2.1.9)
# files an item must have once unpacked; binaries among them must run
declare -A files relocate
files[containerd-1.7.24]="usr/bin/containerd usr/bin/ctr usr/bin/containerd-shim-runc-v2"
files[containerd-2.1.9]="usr/bin/containerd usr/bin/ctr usr/bin/containerd-shim-runc-v2"
files[runc-1.3.6]="usr/bin/runc"
files[crun-1.28]="usr/bin/crun"
files[containerd-src-1.7.24]="usr/share/gocode/src/github.com/containerd/containerd/go.mod"
files[containerd-src-2.1.9]="usr/share/gocode/src/github.com/containerd/containerd/v2/go.mod"
files[containerd-api-src-2.1.9]="usr/share/gocode/src/github.com/containerd/containerd/api/types/introspection.proto"
relocate[runc-1.3.6]="usr/bin/runc"
relocate[crun-1.28]="usr/bin/crun"

log() { printf 'fetch-containerd: %s\n' "$*"; }
die() {
	printf 'fetch-containerd: error: %s\n' "$*" >&2
	exit 1
}

# mirror: the URI of the machine's apt source for its own release (deb822
# .sources or one-line .list), so the private config uses the same mirror
mirror() {
	local codename found
	if [ -n "${PODSHIM_DEBIAN_MIRROR:-}" ]; then
		echo "$PODSHIM_DEBIAN_MIRROR"
		return
	fi
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	found=$({
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] || continue
			awk -v c="$codename" '
				function flush() {
					if (uris != "" && (" " suites " ") ~ (" " c " ")) { split(uris, u, " "); print u[1] }
					uris = ""; suites = ""
				}
				/^[ \t]*$/ { flush(); next }
				/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
				/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
				END { flush() }' "$f"
		done
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			awk -v c="$codename" '$1 == "deb" {
				sub(/\[[^]]*\][ \t]*/, ""); if ($3 == c) print $2 }' "$f"
		done
	} | head -1)
	echo "${found:-http://deb.debian.org/debian}"
}

# write_config DIR MIRROR SUITE...: the private apt configuration
write_config() {
	local d=$1 m=$2 s k v
	shift 2
	mkdir -p "$d/etc/apt.conf.d" "$d/etc/sources.list.d" "$d/etc/preferences.d" \
		"$d/etc/trusted.gpg.d" "$d/lists/partial" "$d/cache/archives/partial"
	: >"$d/status"
	: >"$d/etc/sources.list"
	for s in "$@"; do
		echo "deb [signed-by=$keyring] $m $s main" >>"$d/etc/sources.list"
	done
	# How to reach the mirror is the machine's business: its proxy and its
	# Valid-Until/date checks (a mirror frozen at a snapshot serves Release
	# files past their Valid-Until; the machine's own apt config says so)
	# are carried over; signatures are checked either way.
	local acquire=
	for k in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until \
		Acquire::Check-Date; do
		v=$(apt-config dump "$k" | awk -v k="$k" '$1 == k { print $2 }' | tr -d '";')
		[ -n "$v" ] && acquire+="$k \"$v\";"$'\n'
	done
	cat >"$d/apt.conf" <<-EOF
		// written by scripts/fetch-containerd.sh: apt sees nothing of /etc/apt
		Dir::Etc "$d/etc";
		Dir::Etc::main "$d/etc/apt.conf";
		Dir::Etc::parts "$d/etc/apt.conf.d";
		Dir::Etc::SourceList "$d/etc/sources.list";
		Dir::Etc::SourceParts "$d/etc/sources.list.d";
		Dir::Etc::Preferences "$d/etc/preferences";
		Dir::Etc::PreferencesParts "$d/etc/preferences.d";
		Dir::Etc::Trusted "$d/etc/trusted.gpg";
		Dir::Etc::TrustedParts "$d/etc/trusted.gpg.d";
		Dir::State "$d";
		Dir::State::Lists "$d/lists";
		Dir::State::status "$d/status";
		Dir::State::extended_states "$d/extended_states";
		Dir::Cache "$d/cache";
		Dir::Cache::archives "$d/cache/archives";
		Dir::Log "$d/log";
		APT::Architecture "$(dpkg --print-architecture)";
		APT::Architectures { "$(dpkg --print-architecture)"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
		Acquire::GzipIndexes "true";
		Acquire::Languages "none";
		Acquire::AllowInsecureRepositories "false";
		Acquire::AllowDowngradeToInsecureRepositories "false";
		APT::Get::AllowUnauthenticated "false";
	EOF
	printf '%s' "$acquire" >>"$d/apt.conf"
}

papt() {
	APT_CONFIG=$aptdir/apt.conf "$@"
}

# resolve PKG PIN: the version to download (the pin, else the newest
# Debian revision of the same upstream version, with a warning)
resolve() {
	local pkg=$1 pin=$2 have v
	have=$(papt apt-cache madison "$pkg" | awk -F'|' '{gsub(/ /, "", $2); print $2}')
	if grep -qxF -- "$pin" <<<"$have"; then
		echo "$pin"
		return
	fi
	for v in $have; do # madison lists the newest first
		if [ "${v%-*}" = "${pin%-*}" ]; then
			log "WARNING: $pkg $pin is gone from the suite; taking $v (same upstream version)" >&2
			echo "$v"
			return
		fi
	done
	die "$pkg $pin is not in the private lists (they have: $(echo $have)); update the pin in $0"
}

# fetch ITEM: download, check, unpack and relocate into $cache/ITEM
fetch() {
	local item=$1 dl tmp p pkg pin v deb sum want stamp f lib interp
	dl=$(mktemp -d "$cache/.dl-$item.XXXXXX")
	tmp=$(mktemp -d "$cache/.$item.XXXXXX")
	scratch+=("$dl" "$tmp")
	# apt downloads as the unprivileged _apt user where it exists
	id _apt >/dev/null 2>&1 && chown _apt "$dl"
	stamp="pins: ${pins[$item]}"$'\n'"suite: ${suite[$item]}"$'\n'
	for p in ${pins[$item]}; do
		pkg=${p%%=*}
		pin=${p#*=}
		v=$(resolve "$pkg" "$pin")
		(cd "$dl" && papt apt-get -q download "$pkg=$v" >/dev/null)
		deb=$(ls "$dl"/"${pkg}"_*.deb)
		want=$(papt apt-cache show "$pkg=$v" | awk '/^SHA256:/ { print $2; exit }')
		sum=$(sha256sum "$deb" | cut -d' ' -f1)
		[ -n "$want" ] && [ "$sum" = "$want" ] ||
			die "$(basename "$deb"): sha256 $sum, the signed index says ${want:-nothing}"
		dpkg-deb -x "$deb" "$tmp"
		log "  $pkg $v (${suite[$item]}, sha256 ${sum:0:16}...) unpacked"
		stamp+="got: $pkg=$v sha256:$sum"$'\n'
		rm -f "$deb"
	done
	if [ -n "${relocate[$item]:-}" ]; then
		command -v patchelf >/dev/null || die "patchelf is needed for $item (apt-get install patchelf)"
		# the loader and libraries of the unpacked libc6, at their final place
		interp=$(cd "$tmp" && ls usr/lib/*/ld-linux*.so.* | head -1)
		[ -n "$interp" ] || die "$item: no ELF interpreter among the unpacked packages"
		lib=$cache/$item/$(dirname "$interp")
		interp=$cache/$item/$interp
		for f in ${relocate[$item]}; do
			patchelf --set-interpreter "$interp" --set-rpath "$lib" "$tmp/$f"
			log "  $f: interpreter and RUNPATH -> $lib"
		done
	fi
	for f in ${files[$item]}; do
		[ -e "$tmp/$f" ] || die "$item: $f missing from the unpacked packages"
	done
	printf '%s' "$stamp" >"$tmp/.podshim-fetched"
	chmod 0755 "$tmp"
	rm -rf "${cache:?}/$item"
	mv "$tmp" "$cache/$item"
	# a binary that cannot run here is an error now, not in a test later
	for f in ${files[$item]}; do
		case $f in
		usr/bin/containerd) "$cache/$item/$f" --version ;;
		usr/bin/runc | usr/bin/crun) "$cache/$item/$f" --version | sed -n 1p ;;
		esac
	done | sed 's/^/fetch-containerd:   /'
	log "$item -> $cache/$item"
}

# up_to_date ITEM: unpacked earlier from the same pins
up_to_date() {
	local f
	[ -r "$cache/$1/.podshim-fetched" ] &&
		grep -qxF "pins: ${pins[$1]}" "$cache/$1/.podshim-fetched" || return 1
	for f in ${files[$1]}; do
		[ -e "$cache/$1/$f" ] || return 1
	done
}

policy=0
want=()
for a in "$@"; do
	case $a in
	--policy) policy=1 ;;
	all) want+=("${items[@]}") ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*)
		[ -n "${pins[$a]:-}" ] || die "unknown item $a (known: ${items[*]})"
		want+=("$a")
		;;
	esac
done
[ ${#want[@]} -gt 0 ] || want=(containerd-1.7.24 containerd-2.1.9)
[ "$(id -u)" -eq 0 ] || die "run as root (it writes $cache)"

mkdir -p "$cache"
chmod 0755 "$cache"
scratch=()
trap 'rm -rf "${scratch[@]}"' EXIT
exec 9>"$cache/.lock"
flock 9

todo=()
for item in "${want[@]}"; do
	if [ $policy -eq 0 ] && up_to_date "$item"; then
		log "$item: up to date in $cache/$item ($(grep '^got:' "$cache/$item/.podshim-fetched" |
			cut -d' ' -f2 | paste -sd' '))"
	else
		todo+=("$item")
	fi
done
[ ${#todo[@]} -gt 0 ] || exit 0

aptdir=$cache/apt
m=$(mirror)
suites=$(for item in "${todo[@]}"; do echo "${suite[$item]}"; done | sort -u)
write_config "$aptdir" "$m" $suites
log "updating private apt lists in $aptdir ($m: $(echo $suites))"
papt apt-get -q update --error-on=any >"$aptdir/update.log" 2>&1 ||
	die "apt-get update failed: $(tail -5 "$aptdir/update.log")"

if [ $policy -eq 1 ]; then
	for item in "${todo[@]}"; do
		for p in ${pins[$item]}; do
			echo "== $item: pinned $p (${suite[$item]})"
			papt apt-cache policy "${p%%=*}" | sed -n '3,$p'
		done
	done
	exit 0
fi

for item in "${todo[@]}"; do
	log "fetching $item (${suite[$item]}: ${pins[$item]})"
	fetch "$item"
done
