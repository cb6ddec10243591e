#!/usr/bin/env bash
# Builds the interop VM of tests/vm (see README.md there): Debian's kernel and an initramfs with
# busybox, pppd, pptpd and pptp-linux, all taken from Debian binary packages.
#
#   tests/vm/build.sh            build if the inputs changed (idempotent, offline once cached)
#   tests/vm/build.sh --force    rebuild from the cached packages
#   tests/vm/build.sh --refresh  download the packages again, then rebuild
#
# Output (DIALGATE_VM_DIR, default <repo>/target/vm):
#   vmlinuz (and on x86 vmlinux, the same kernel uncompressed), initramfs.img, manifest.txt (package versions), debs/ (the package cache)
# Needs: apt-get (+ network the first time), dpkg-deb, depmod/modprobe (kmod), readelf
# (binutils), cpio, zstd. tests/apt-packages.txt lists them.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${DIALGATE_VM_DIR:-$repo/target/vm}
mode=${1:-}

die() { echo "tests/vm/build.sh: $*" >&2; exit 1; }
log() { echo "tests/vm/build.sh: $*"; }

arch=$(dpkg --print-architecture)
case "$arch" in
  amd64) multiarch=x86_64-linux-gnu; ldso=/lib64/ld-linux-x86-64.so.2 ;;
  arm64) multiarch=aarch64-linux-gnu; ldso=/lib/ld-linux-aarch64.so.1 ;;
  *) die "unsupported architecture $arch" ;;
esac

# The modules the guest loads (their dependencies come along): the NIC, PPP over ptys (what
# pppd uses under pptp-linux and pptpd), MPPE and the optional compressors, and tun.
modules=(virtio_pci virtio_net ppp_generic ppp_async ppp_mppe ppp_deflate tun)
# The programs of the guest, with what their packages install.
programs=(/usr/sbin/pppd /usr/sbin/pppstats /usr/sbin/pptp /usr/sbin/pptpd /usr/sbin/pptpctrl)
top_packages=(ppp pptpd pptp-linux busybox-static)

stamp=$(cat "$0" "$here/init" | sha256sum | cut -d' ' -f1)
if [ "$mode" = "" ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] \
  && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.img" ] \
  && { [ "$arch" != amd64 ] || [ -f "$out/vmlinux" ]; }; then
  log "up to date: $out"
  exit 0
fi

debs=$out/debs
[ "$mode" = --refresh ] && rm -rf "$debs"
mkdir -p "$debs"

apt_ready() {
  apt-cache show ppp >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "the apt package lists are empty; run 'apt-get update' as root"
  log "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
}

# The package list: the kernel image for this architecture, the programs, and every library
# package in their dependency closure (libelogind0 is an alternative to libsystemd0 that ships
# the same soname, so it is left out). Resolved once, then kept with the cache.
if [ ! -s "$debs/packages.txt" ]; then
  apt_ready
  kpkg=$(apt-cache depends "linux-image-$arch" | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$kpkg" ] || die "no kernel package behind linux-image-$arch"
  {
    echo "$kpkg"
    printf '%s\n' "${top_packages[@]}"
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${top_packages[@]}" \
      | grep -E '^lib' | grep -vE '^(libelogind|libpam-)|-(dev|perl)$' | sort -u
  } >"$debs/packages.txt.tmp"
  mv "$debs/packages.txt.tmp" "$debs/packages.txt"
fi
mapfile -t packages <"$debs/packages.txt"

missing=()
for p in "${packages[@]}"; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_ready
  log "downloading ${#missing[@]} packages"
  (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null) \
    || die "apt-get download failed (${missing[*]})"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dialgate-vm-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
sysroot=$work/sysroot
kroot=$work/kernel
rootfs=$work/rootfs
mkdir -p "$sysroot" "$kroot" "$rootfs"

: >"$work/manifest.txt"
for p in "${packages[@]}"; do
  deb=$(compgen -G "$debs/${p}_*.deb" | sort | tail -n1)
  dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$work/manifest.txt"
  if [ "$p" = "${packages[0]}" ]; then
    dpkg-deb -x "$deb" "$kroot"
  else
    dpkg-deb -x "$deb" "$sysroot"
  fi
done

# Kernel and modules.
kver=$(ls "$kroot/lib/modules")
[ "$(echo "$kver" | wc -w)" = 1 ] || die "expected one kernel version, found: $kver"
depmod -b "$kroot" "$kver"
mdir=lib/modules/$kver
mkdir -p "$rootfs/$mdir"
for m in "${modules[@]}"; do
  modprobe -d "$kroot" -S "$kver" --show-depends "$m" | while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    rel=${path#"$kroot"/}
    mkdir -p "$rootfs/$(dirname "$rel")"
    cp "$path" "$rootfs/$rel"
  done
done
cp "$kroot/$mdir"/modules.{builtin,builtin.modinfo,order} "$rootfs/$mdir/"
depmod -b "$rootfs" "$kver"

# Userland: busybox and its applets, the PPP programs and their configuration.
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,var/log,var/lock,root,mnt}
ln -s ../run "$rootfs/var/run"
cp "$sysroot/bin/busybox" "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
for prog in "${programs[@]}"; do
  [ -f "$sysroot$prog" ] || die "$prog is not in the packages"
  cp "$sysroot$prog" "$rootfs$prog"
done
cp -a "$sysroot/etc/ppp" "$rootfs/etc/ppp"
cp "$sysroot/etc/pptpd.conf" "$rootfs/etc/pptpd.conf"
install -m 0755 "$here/init" "$rootfs/init"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n' \
  >"$rootfs/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n' >"$rootfs/etc/hosts"
printf 'ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\ngre 47 GRE\n' >"$rootfs/etc/protocols"
printf 'pptp 1723/tcp\n' >"$rootfs/etc/services"
echo dialgate-vm >"$rootfs/etc/hostname"

# Shared libraries: the NEEDED closure of every ELF file above, resolved in the packages.
libdirs=("$sysroot/lib/$multiarch" "$sysroot/usr/lib/$multiarch")
mkdir -p "$rootfs/lib/$multiarch" "$rootfs/usr/lib" "$rootfs$(dirname "$ldso")"
ln -s "../../lib/$multiarch" "$rootfs/usr/lib/$multiarch"
find_lib() {
  local d
  for d in "${libdirs[@]}"; do
    [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}
queue=("${programs[@]/#/$rootfs}")
while [ "${#queue[@]}" -gt 0 ]; do
  f=${queue[0]}
  queue=("${queue[@]:1}")
  for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -e "$rootfs/lib/$multiarch/$so" ] && continue
    src=$(find_lib "$so") || die "no package in the closure ships $so (needed by ${f#"$rootfs"})"
    cp -L "$src" "$rootfs/lib/$multiarch/$so"
    queue+=("$rootfs/lib/$multiarch/$so")
  done
done
ldname=$(basename "$ldso")
[ -e "$rootfs/lib/$multiarch/$ldname" ] || cp -L "$(find_lib "$ldname")" "$rootfs/lib/$multiarch/$ldname"
[ -e "$rootfs$ldso" ] || ln -s "/lib/$multiarch/$ldname" "$rootfs$ldso"

# The artefacts, replaced atomically.
mkdir -p "$out"
cp "$kroot/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
# On x86 the uncompressed ELF kernel boots through its PVH entry point, which skips the
# firmware's Linux loader and the decompressor (seconds under TCG). Debian's bzImage carries it
# as an xz stream.
if [ "$arch" = amd64 ]; then
  off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$out/vmlinuz.tmp" | cut -d: -f1 | awk 'NR == 1')
  [ -n "$off" ] || die "no xz stream in the kernel image"
  tail -c +"$((off + 1))" "$out/vmlinuz.tmp" >"$work/vmlinux.xz"
  # The stream is followed by the rest of the image: xz complains, the ELF is complete.
  xz -dc "$work/vmlinux.xz" >"$out/vmlinux.tmp" 2>/dev/null || true
  readelf -n "$out/vmlinux.tmp" | grep 'Xen.*(0x00000012)' >/dev/null \
    || die "the extracted kernel has no PVH entry note"
fi
(cd "$rootfs" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
  | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) \
  | zstd -q -19 -T0 >"$out/initramfs.img.tmp"
echo "kernel $kver" >>"$work/manifest.txt"
mv "$work/manifest.txt" "$out/manifest.txt"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
[ -f "$out/vmlinux.tmp" ] && mv "$out/vmlinux.tmp" "$out/vmlinux"
mv "$out/initramfs.img.tmp" "$out/initramfs.img"
echo "$stamp" >"$out/stamp"
log "built $out (kernel $kver, initramfs $(du -h "$out/initramfs.img" | cut -f1))"
