#!/usr/bin/env bash
# Builds the dialgate appliance disk image for one architecture and hardware profile, from
# Debian binary packages (kernel, busybox-static, glibc, systemd-boot's EFI binary) and our own
# release binaries (routerd, routerctl, the plugins, and the web UI when the tree has it).
# See appliance-image/README.md for the layout and the boot chain.
#
#   appliance-image/build.sh x86_64 [--profile hw-profiles/qemu-x86_64.toml] [--out DIR]
#                                   [--no-xz] [--no-cargo]
#   appliance-image/build.sh aarch64 [...]      (cross-built; see README.md, "Cross builds")
#
# Output (default target/appliance/<arch>/): dialgate-<arch>.img (GPT disk image), .img.xz
# unless --no-xz, manifest.txt (Debian package versions, binary sizes), build-info.txt.
# Installs the host tools it needs (apt, as root) and the rustup target of a cross build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
t0=$(date +%s)
die() { echo "appliance-image/build.sh: $*" >&2; exit 1; }
log() { echo "    $*"; }
step() { printf '==> [%4ss] %s\n' "$(($(date +%s) - t0))" "$*"; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

arch=${1:-}
[ $# -gt 0 ] && shift
case "$arch" in
  x86_64) debarch=amd64; rust_target=x86_64-unknown-linux-gnu; efi_boot=BOOTX64.EFI
    sdboot=systemd-bootx64.efi; root_type=8304 ;;
  aarch64) debarch=arm64; rust_target=aarch64-unknown-linux-gnu; efi_boot=BOOTAA64.EFI
    sdboot=systemd-bootaa64.efi; root_type=8305 ;;
  -h | --help | "") usage ;;
  *) die "unknown architecture '$arch' (x86_64 or aarch64)" ;;
esac
profile=$repo/hw-profiles/qemu-$arch.toml
out=$repo/target/appliance/$arch
xz=1
cargo_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$(realpath "${2:?--profile needs a file}"); shift 2 ;;
    --out) out=$(realpath -m "${2:?--out needs a directory}"); shift 2 ;;
    --no-xz) xz=0; shift ;;
    --no-cargo) cargo_build=0; shift ;;
    -h | --help) usage ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[ -f "$profile" ] || die "no profile $profile"

# Partition sizes (MiB). The root slots hold the squashfs of one release each; the config
# partition holds routerd's state directory (configuration store, users, accounting log).
# The ESP holds each slot's kernel and initramfs: Debian's arm64 kernel is an uncompressed
# Image (~33 MiB; systemd-boot cannot decompress), so the aarch64 ESP is larger.
esp_mb=64
[ "$arch" = aarch64 ] && esp_mb=128
slot_mb=256
cfg_mb=64

# --- host tools --------------------------------------------------------------------------
step "host tools"
tools=(mksquashfs:squashfs-tools mkfs.vfat:dosfstools mcopy:mtools mmd:mtools sgdisk:gdisk
  mkfs.ext4:e2fsprogs cpio:cpio zstd:zstd xz:xz-utils readelf:binutils depmod:kmod
  dpkg-deb:dpkg)
files=()
if [ "$arch" = x86_64 ]; then
  tools+=(syslinux:syslinux)
  files+=(/usr/lib/SYSLINUX/gptmbr.bin:syslinux /usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common)
fi
host_arch=$(uname -m)
cross=0
if [ "$arch" != "$host_arch" ]; then
  cross=1
  cross_prefix=${DIALGATE_CROSS_PREFIX:-$arch-linux-gnu-}
  # The Debian cross compiler is installed only when no other toolchain was named.
  if [ -z "${DIALGATE_CROSS_LINKER:-}" ] && [ -z "${DIALGATE_CROSS_PREFIX:-}" ]; then
    tools+=("${cross_prefix}gcc:gcc-$arch-linux-gnu")
    files+=("/usr/$arch-linux-gnu/lib/crti.o:libc6-dev-$debarch-cross")
  fi
  tools+=("${cross_prefix}strip:binutils-$arch-linux-gnu")
fi
missing=()
for t in "${tools[@]}"; do
  command -v "${t%%:*}" >/dev/null || PATH=$PATH:/usr/sbin:/sbin command -v "${t%%:*}" >/dev/null \
    || missing+=("${t#*:}")
done
for f in "${files[@]}"; do
  [ -e "${f%%:*}" ] || missing+=("${f#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  [ "$(id -u)" = 0 ] || die "missing host packages: ${missing[*]} (install them, or run as root)"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -o DPkg::Lock::Timeout=600 -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null; } \
    || die "apt-get install ${missing[*]} failed"
fi
export PATH=$PATH:/usr/sbin:/sbin

# --- our binaries -------------------------------------------------------------------------
# The plugins the image carries (libdialgate_plugin_<name>.so in /usr/lib/dialgate/plugins).
plugins=(serial pptp ipx_bridge netbeui)
packages=(-p dialgate-routerd -p dialgate-console-login)
for p in "${plugins[@]}"; do packages+=(-p "dialgate-plugin-${p//_/-}"); done
webui=0
if [ -f "$repo/webui/Cargo.toml" ]; then
  packages+=(-p dialgate-webui)
  webui=1
fi
host_bin=$repo/target/release
if [ "$cross" = 1 ]; then
  # Its own target directory: a cross build never waits on the host build's lock.
  cross_target_dir=$repo/target/cross
  bin=$cross_target_dir/$rust_target/release
  # The cross linker and its sysroot come from the environment, so a buildroot SDK can stand
  # in for Debian's cross gcc: DIALGATE_CROSS_LINKER=/opt/sdk/bin/aarch64-buildroot-linux-gnu-gcc
  # (its own sysroot is built in; DIALGATE_CROSS_SYSROOT adds --sysroot).
  # The same compiler builds the C and assembly parts of crates (ring), through the cc crate's
  # CC_<target>/AR_<target>/CFLAGS_<target>.
  linker=${DIALGATE_CROSS_LINKER:-${cross_prefix}gcc}
  triple_env=$(echo "$rust_target" | tr 'a-z-' 'A-Z_')
  triple_cc=${rust_target//-/_}
  export "CARGO_TARGET_${triple_env}_LINKER=$linker"
  export "CC_${triple_cc}=${DIALGATE_CROSS_CC:-$linker}"
  export "AR_${triple_cc}=${DIALGATE_CROSS_AR:-${cross_prefix}ar}"
  if [ -n "${DIALGATE_CROSS_SYSROOT:-}" ]; then
    export "CARGO_TARGET_${triple_env}_RUSTFLAGS=-C link-arg=--sysroot=$DIALGATE_CROSS_SYSROOT"
    export "CFLAGS_${triple_cc}=--sysroot=$DIALGATE_CROSS_SYSROOT"
  fi
  strip_cmd=${DIALGATE_CROSS_STRIP:-${cross_prefix}strip}
else
  bin=$host_bin
  strip_cmd=strip
fi
if [ "$cargo_build" = 1 ]; then
  step "cargo build --release ($rust_target): routerd, routerctl, plugins$([ $webui = 1 ] && echo ", web UI")"
  if [ "$cross" = 1 ]; then
    rustup target list --installed 2>/dev/null | grep -qx "$rust_target" \
      || { log "rustup target add $rust_target"; rustup target add "$rust_target"; }
    (cd "$repo" && cargo build --release --locked --target "$rust_target" \
      --target-dir "$cross_target_dir" "${packages[@]}")
    step "cargo build --release: dg-hwprofile (host)"
    (cd "$repo" && cargo build --release --locked -p dialgate-appliance-image --bin dg-hwprofile)
  else
    # dg-hwprofile in the same build: one feature resolution, routerd compiled once.
    (cd "$repo" && cargo build --release --locked "${packages[@]}" -p dialgate-appliance-image)
  fi
fi
needed=("$bin/routerd" "$bin/routerctl" "$bin/dg-login" "$host_bin/dg-hwprofile")
for p in "${plugins[@]}"; do needed+=("$bin/libdialgate_plugin_$p.so"); done
for f in "${needed[@]}"; do
  [ -f "$f" ] || die "$f is missing (build without --no-cargo)"
done

# --- hardware profile ----------------------------------------------------------------------
step "hardware profile $(basename "$profile")"
profile_sh=$("$host_bin/dg-hwprofile" shell "$profile") || die "invalid profile $profile"
eval "$profile_sh"
[ "$DG_ARCH" = "$arch" ] || die "profile $profile is for $DG_ARCH, not $arch"
log "board $DG_BOARD ($DG_FIRMWARE), console $DG_CONSOLE, $DG_NET_COUNT interfaces, serial: ${DG_SERIAL:-none}"

# --- Debian packages ----------------------------------------------------------------------
step "Debian packages ($debarch)"
# shellcheck source=lib/debian.sh
. "$here/lib/debian.sh"
deb_arch_setup "$debarch"
debs=$repo/target/appliance/debs-$debarch
mkdir -p "$debs"
deb_resolve "$debs" "linux-image-$debarch" busybox-static libc6 libgcc-s1 systemd-boot-efi
deb_fetch "$debs"
work=$(mktemp -d "${TMPDIR:-/tmp}/dialgate-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
kroot=$work/kernel
sysroot=$work/sysroot
rootfs=$work/rootfs
initrd=$work/initrd
mkdir -p "$kroot" "$sysroot" "$rootfs" "$initrd"
: >"$work/manifest.txt"
deb_extract "$debs" "$kroot" "$sysroot" "$work/manifest.txt"
kver=$(deb_kernel_version "$kroot")
log "kernel $kver"

# --- root filesystem ----------------------------------------------------------------------
step "root filesystem"
# Modules of every box: TUN (the data plane), bridging and VLANs, packet sockets (LAN-protocol
# plugins), the serial drivers of multi-port cards Debian ships (Exar, Digi Neo, Moxa
# Smartio/Industio and Intellio, Comtrol RocketPort), USB serial adapters, the FAT of the ESP
# (image upgrades), then the profile's own.
# Stage 2 loads the boot set before routerd starts: the config partition's file system, TUN,
# the profile's own modules, and the drivers of the hardware present (matched by modalias,
# among the modules the image carries); the rest of the list after routerd answers.
boot_modules=(crc32c_generic crc32c_intel ext4 tun)
base_modules=(bridge llc stp 8021q af_packet 8250_exar jsm mxser moxa rp2 usbserial
  ftdi_sio pl2303 cp210x ch341 vfat nls_cp437 nls_iso8859_1 efivarfs virtio_rng)
read -r -a profile_modules <<<"$DG_MODULES"
all_modules=("${boot_modules[@]}" "${base_modules[@]}" "${profile_modules[@]}")
# The initramfs: disk controllers and root file systems of every supported box.
# Stage 1 loads them in this order until the root partition appears; the file system ones
# are loaded after that.
initrd_modules=(virtio_pci virtio_blk virtio_scsi sd_mod nvme ahci mmc_block sdhci_pci
  sdhci_acpi sdhci_iproc pcie_brcmstb usb_storage uas xhci_pci xhci_plat_hcd ehci_pci ohci_pci)
# softdog: the watchdog of a trial boot after an upgrade (see rootfs/dg-upgrade). The config
# partition's ext4 is loaded by stage 2, from the root slot.
initrd_fs_modules=(squashfs softdog)

mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,usr/lib/dialgate/plugins,etc/dialgate,proc,sys,dev,tmp,run,var,root,mnt,boot/efi}
cp "$sysroot/bin/busybox" "$rootfs/bin/busybox"
if [ "$cross" = 1 ]; then
  # The target's busybox cannot run here: the applet list comes from the same package of the
  # host's architecture (same version, same configuration), unpacked next to the cache.
  host_debs=$repo/target/appliance/debs-$(dpkg --print-architecture)-host
  bb_version=$(dpkg-deb -f "$(compgen -G "$debs/busybox-static_*_$debarch.deb" | sort | tail -n1)" Version)
  if ! compgen -G "$host_debs/busybox-static_*${bb_version#*:}_*.deb" >/dev/null; then
    mkdir -p "$host_debs"
    (cd "$host_debs" && apt-get download -q -o APT::Sandbox::User=root "busybox-static=$bb_version" >/dev/null) \
      || die "apt-get download busybox-static=$bb_version (host architecture) failed"
  fi
  dpkg-deb -x "$(compgen -G "$host_debs/busybox-static_*${bb_version#*:}_*.deb" | head -n1)" "$work/host-busybox"
  applets=$("$work/host-busybox/bin/busybox" --list)
else
  applets=$("$rootfs/bin/busybox" --list)
fi
for applet in $applets; do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
rm -f "$rootfs/bin/init" "$rootfs/sbin/init"
install -m 0755 "$here/rootfs/init" "$rootfs/sbin/init"
install -m 0755 "$here/rootfs/dg-upgrade" "$rootfs/usr/sbin/dg-upgrade"
for b in routerd routerctl dg-login; do
  "$strip_cmd" -o "$rootfs/usr/bin/$b" "$bin/$b"
done
for p in "${plugins[@]}"; do
  "$strip_cmd" --strip-unneeded -o "$rootfs/usr/lib/dialgate/plugins/libdialgate_plugin_$p.so" \
    "$bin/libdialgate_plugin_$p.so"
done
elf_files=(/usr/bin/routerd /usr/bin/routerctl /usr/bin/dg-login)
for p in "${plugins[@]}"; do elf_files+=("/usr/lib/dialgate/plugins/libdialgate_plugin_$p.so"); done
if [ "$webui" = 1 ] && [ -f "$bin/dialgate-webui" ]; then
  "$strip_cmd" -o "$rootfs/usr/bin/dialgate-webui" "$bin/dialgate-webui"
  elf_files+=(/usr/bin/dialgate-webui)
fi
deb_copy_libs "$rootfs" "$sysroot" "${elf_files[@]}"
# Our binaries are for the target, glibc-dynamic (plugins are dlopened), and the programs ask
# for the loader the image carries.
case "$arch" in x86_64) machine="Advanced Micro Devices X86-64" ;; aarch64) machine=AArch64 ;; esac
for f in "${elf_files[@]}"; do
  readelf -h "$rootfs$f" | grep -q "Machine: *$machine\$" || die "$f is not a $machine ELF file"
  readelf -d "$rootfs$f" | grep -q '(NEEDED).*\[libc\.so\.6\]' || die "$f does not link glibc dynamically"
  case "$f" in
    *.so) ;;
    *) readelf -l "$rootfs$f" | grep -qF "[Requesting program interpreter: $deb_ldso]" \
      || die "$f does not use the loader $deb_ldso" ;;
  esac
done
deb_copy_modules "$kroot" "$kver" "$rootfs" "${all_modules[@]}" >"$work/modules.log"
sed 's/^/    /' "$work/modules.log"
printf '%s\n' "${all_modules[@]}" >"$rootfs/etc/dialgate/modules"
printf '%s\n' "${boot_modules[@]}" "${profile_modules[@]}" >"$rootfs/etc/dialgate/modules.boot"

# The profile, as the init reads it and as routerd's schema reads it.
printf '# Generated by appliance-image/build.sh from %s\n%s\n' "$(basename "$profile")" "$profile_sh" \
  >"$rootfs/etc/dialgate/hw-profile.sh"
cp "$profile" "$rootfs/etc/dialgate/hw-profile.toml"
# routerd's first configuration: the embedded default. Its metrics listen on loopback only
# (a LAN-side scraper needs metrics_listen set to the box's LAN address); the management API is
# the unix socket, reached by routerctl on the console and by the web UI.
cp "$repo/core/routerd/config/default.toml" "$rootfs/etc/dialgate/routerd.toml"
grep -q '^metrics_listen = "127.0.0.1:9633"' "$rootfs/etc/dialgate/routerd.toml" \
  || die "the embedded default no longer keeps metrics on loopback: check the image's routerd.toml"

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
dialgate-webui:x:101:101:dialgate web UI:/nonexistent:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
dialout:x:20:
dialgate:x:100:dialgate-webui
dialgate-webui:x:101:
nogroup:x:65534:
EOF
printf 'passwd: files\ngroup: files\nhosts: files dns\nservices: files\nprotocols: files\n' \
  >"$rootfs/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n127.0.1.1 dialgate\n' >"$rootfs/etc/hosts"
printf 'ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\ngre 47 GRE\nipv6-icmp 58 IPv6-ICMP\n' \
  >"$rootfs/etc/protocols"
printf 'http 80/tcp\nhttps 443/tcp\npptp 1723/tcp\n' >"$rootfs/etc/services"
ln -s /run/resolv.conf "$rootfs/etc/resolv.conf"
cat >"$rootfs/etc/profile" <<'EOF'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PS1='dialgate# '
EOF
cat >"$rootfs/etc/dialgate/udhcpc.sh" <<'EOF'
#!/bin/sh
# udhcpc's event script: address, default route and DNS servers of a DHCP interface.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound | renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    : >/run/resolv.conf
    for d in $dns; do echo "nameserver $d" >>/run/resolv.conf; done
    ;;
esac
EOF
chmod 0755 "$rootfs/etc/dialgate/udhcpc.sh"
version=$(cd "$repo" && git describe --always --dirty 2>/dev/null || echo unknown)
cat >"$rootfs/etc/os-release" <<EOF
NAME=dialgate
ID=dialgate
PRETTY_NAME="dialgate appliance ($version)"
VERSION_ID=$version
IMAGE_ID=dialgate-$arch
HW_PROFILE=$DG_BOARD
BUILD_KERNEL=$kver
EOF

# --- initramfs (stage 1) ------------------------------------------------------------------
step "initramfs"
mkdir -p "$initrd"/{bin,sbin,etc,proc,sys,dev,newroot}
cp "$sysroot/bin/busybox" "$initrd/bin/busybox"
for applet in sh mount umount modprobe switch_root sleep cat grep sed reboot mkdir; do
  ln -s busybox "$initrd/bin/$applet"
done
install -m 0755 "$here/rootfs/initrd-init" "$initrd/init"
deb_copy_modules "$kroot" "$kver" "$initrd" "${initrd_modules[@]}" "${initrd_fs_modules[@]}" \
  >"$work/initrd-modules.log"
printf '%s\n' "${initrd_modules[@]}" >"$initrd/etc/initrd-modules"
(cd "$initrd" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
  | cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) \
  | zstd -q -19 -T0 >"$work/initrd.img"

# --- partitions ---------------------------------------------------------------------------
step "root slot (squashfs, zstd)"
mksquashfs "$rootfs" "$work/root.sqfs" -comp zstd -Xcompression-level 19 -b 256K -noappend \
  -all-root -quiet -no-progress >/dev/null
root_bytes=$(stat -c %s "$work/root.sqfs")
[ "$root_bytes" -le $((slot_mb * 1024 * 1024)) ] || die "the root filesystem ($root_bytes bytes) exceeds a ${slot_mb} MiB slot"

cmdline="$DG_CMDLINE quiet panic=10"
step "ESP (FAT32): systemd-boot$([ "$arch" = x86_64 ] && echo " + syslinux (BIOS)")"
esp_start=2048 # sectors: partition 1 starts at 1 MiB
esp=$work/esp.img
# -h: hidden sectors = the partition's offset, which syslinux's boot sector adds to its reads.
mkfs.vfat -F 32 -s 1 -h "$esp_start" -n DIALGATE -C "$esp" $((esp_mb * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries ::/dialgate ::/dialgate/a ::/dialgate/b
mcopy -i "$esp" "$sysroot/usr/lib/systemd/boot/efi/$sdboot" "::/EFI/BOOT/$efi_boot"
mcopy -i "$esp" "$kroot/boot/vmlinuz-$kver" ::/dialgate/a/vmlinuz
mcopy -i "$esp" "$work/initrd.img" ::/dialgate/a/initrd.img
# Boot loader entries: dialgate-<N>-<slot>.conf. "default dialgate-*" boots the last entry
# in systemd-boot's order: the highest N, except that entries whose boot tries ran out sort
# first. An upgrade adds dialgate-<N+1>-<other slot>+<tries>.conf (see rootfs/dg-upgrade).
printf 'default dialgate-*\ntimeout 0\nconsole-mode keep\neditor no\n' >"$work/loader.conf"
mcopy -i "$esp" "$work/loader.conf" ::/loader/loader.conf
printf 'title dialgate %s (slot a)\nversion %s\nlinux /dialgate/a/vmlinuz\ninitrd /dialgate/a/initrd.img\noptions %s dg.slot=a\n' \
  "$version" "$version" "$cmdline" >"$work/entry-a.conf"
mcopy -i "$esp" "$work/entry-a.conf" ::/loader/entries/dialgate-1-a.conf
if [ "$arch" = x86_64 ]; then
  serial_unit=${DG_CONSOLE#ttyS}
  case "$serial_unit" in '' | *[!0-9]*) serial_unit=0 ;; esac
  cat >"$work/syslinux.cfg" <<EOF
SERIAL $serial_unit 115200
DEFAULT a
PROMPT 0
TIMEOUT 0
LABEL a
  LINUX /dialgate/a/vmlinuz
  INITRD /dialgate/a/initrd.img
  APPEND $cmdline dg.slot=a
EOF
  mmd -i "$esp" ::/syslinux
  mcopy -i "$esp" "$work/syslinux.cfg" ::/syslinux/syslinux.cfg
  mcopy -i "$esp" /usr/lib/syslinux/modules/bios/ldlinux.c32 ::/syslinux/ldlinux.c32
  syslinux --install --directory /syslinux "$esp"
fi

step "upgrade bundle"
# What `routerctl system upgrade` and the web UI take: a ustar archive of a manifest (format,
# architecture, version, size and SHA-256 of each file) and the slot's root file system,
# kernel and initramfs (core/routerd/src/upgrade.rs reads it).
mkdir -p "$work/bundle"
cp "$work/root.sqfs" "$work/bundle/root.sqfs"
cp "$kroot/boot/vmlinuz-$kver" "$work/bundle/vmlinuz"
cp "$work/initrd.img" "$work/bundle/initrd.img"
{
  echo "dialgate-upgrade 1"
  echo "arch $arch"
  echo "version $version"
  for f in root.sqfs vmlinuz initrd.img; do
    echo "file $f $(stat -c %s "$work/bundle/$f") $(sha256sum <"$work/bundle/$f" | cut -d' ' -f1)"
  done
} >"$work/bundle/manifest"
mkdir -p "$out"
tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --mode=0644 \
  -C "$work/bundle" -cf "$out/dialgate-$arch.upgrade.tmp" manifest root.sqfs vmlinuz initrd.img
mv "$out/dialgate-$arch.upgrade.tmp" "$out/dialgate-$arch.upgrade"

step "config partition (ext4)"
mkdir -p "$work/cfg"
# Inode tables and journal written now: no lazy initialisation writing in the background
# during the first boot.
mkfs.ext4 -q -F -L dialgate-cfg -E root_owner=0:0,lazy_itable_init=0,lazy_journal_init=0 -d "$work/cfg" "$work/cfg.img" "${cfg_mb}M" >/dev/null

step "GPT disk image"
mkdir -p "$out"
img=$out/dialgate-$arch.img
rm -f "$img.tmp"
total_mb=$((1 + esp_mb + 2 * slot_mb + cfg_mb + 1))
truncate -s "${total_mb}M" "$img.tmp"
sgdisk --clear \
  -n "1:${esp_start}:+${esp_mb}M" -t 1:ef00 -c 1:dialgate-esp -A 1:set:2 \
  -n "2:0:+${slot_mb}M" -t "2:$root_type" -c 2:dialgate-root-a \
  -n "3:0:+${slot_mb}M" -t "3:$root_type" -c 3:dialgate-root-b \
  -n "4:0:+${cfg_mb}M" -t 4:8300 -c 4:dialgate-config \
  "$img.tmp" >/dev/null
start_of() { sgdisk -i "$1" "$img.tmp" | awk '/^First sector:/ {print $3}'; }
[ "$(start_of 1)" = "$esp_start" ] || die "the ESP does not start at sector $esp_start"
dd if="$esp" of="$img.tmp" bs=512 seek="$(start_of 1)" conv=notrunc,sparse status=none
dd if="$work/root.sqfs" of="$img.tmp" bs=512 seek="$(start_of 2)" conv=notrunc,sparse status=none
dd if="$work/cfg.img" of="$img.tmp" bs=512 seek="$(start_of 4)" conv=notrunc,sparse status=none
if [ "$arch" = x86_64 ]; then
  # Legacy BIOS: syslinux's GPT-aware MBR boots the partition with the legacy-bootable bit.
  dd if=/usr/lib/SYSLINUX/gptmbr.bin of="$img.tmp" bs=440 count=1 conv=notrunc status=none
fi
mv "$img.tmp" "$img"

{
  echo "image dialgate-$arch.img $(stat -c %s "$img") bytes"
  echo "profile $DG_BOARD"
  echo "kernel $kver"
  echo "cmdline $cmdline dg.slot=a"
  echo "root.sqfs $root_bytes bytes"
  echo "initrd.img $(stat -c %s "$work/initrd.img") bytes"
  for f in "${elf_files[@]}"; do echo "$f $(stat -c %s "$rootfs$f") bytes"; done
  echo "version $version"
  echo "upgrade bundle dialgate-$arch.upgrade $(stat -c %s "$out/dialgate-$arch.upgrade") bytes"
  echo "--- Debian packages"
  cat "$work/manifest.txt"
} >"$out/manifest.txt"
if [ "$xz" = 1 ]; then
  step "xz"
  xz -T0 -6 -k -f "$img"
fi
step "done: $img ($(du -h --apparent-size "$img" | cut -f1) raw, root slot $((root_bytes / 1024)) KiB$([ "$xz" = 1 ] && echo ", xz $(du -h "$img.xz" | cut -f1)"))"
echo "    boot it: appliance-image/run-qemu.sh $img"
echo "    upgrade a box to it: routerctl system upgrade $out/dialgate-$arch.upgrade --reboot"
