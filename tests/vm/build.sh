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

# The package helpers shared with the appliance image (deb_* functions).
# shellcheck source=../../appliance-image/lib/debian.sh
. "$repo/appliance-image/lib/debian.sh"
arch=$(dpkg --print-architecture)
deb_arch_setup "$arch"

# The modules the guest loads (their dependencies come along): the NIC, PPP over ptys (what
# pppd uses under pptp-linux and pptpd), MPPE and the optional compressors, and tun.
modules=(virtio_pci virtio_net ppp_generic ppp_async ppp_mppe ppp_deflate tun)
# The programs of the guest, with what their packages install.
programs=(/usr/sbin/pppd /usr/sbin/pppstats /usr/sbin/pptp /usr/sbin/pptpd /usr/sbin/pptpctrl)
top_packages=(ppp pptpd pptp-linux busybox-static)

stamp=$(cat "$0" "$here/init" "$repo/appliance-image/lib/debian.sh" | sha256sum | cut -d' ' -f1)
if [ "$mode" = "" ] && [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] \
  && [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.img" ] \
  && { [ "$arch" != amd64 ] || [ -f "$out/vmlinux" ]; }; then
  log "up to date: $out"
  exit 0
fi

debs=$out/debs
[ "$mode" = --refresh ] && rm -rf "$debs"
mkdir -p "$debs"
deb_resolve "$debs" "linux-image-$arch" "${top_packages[@]}"
deb_fetch "$debs"

work=$(mktemp -d "${TMPDIR:-/tmp}/dialgate-vm-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
sysroot=$work/sysroot
kroot=$work/kernel
rootfs=$work/rootfs
mkdir -p "$sysroot" "$kroot" "$rootfs"
: >"$work/manifest.txt"
deb_extract "$debs" "$kroot" "$sysroot" "$work/manifest.txt"

# Kernel and modules.
kver=$(deb_kernel_version "$kroot")
deb_copy_modules "$kroot" "$kver" "$rootfs" "${modules[@]}"

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
deb_copy_libs "$rootfs" "$sysroot" "${programs[@]}"

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
