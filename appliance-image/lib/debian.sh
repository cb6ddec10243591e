# Shared by tests/vm/build.sh (the interop VM) and appliance-image/build.sh (the appliance):
# taking a Debian kernel, its modules and userland programs with their shared libraries out of
# Debian binary packages (apt-get download + dpkg-deb -x), without installing them.
#
# Source it from bash (set -euo pipefail), after defining `die` and `log`:
#   deb_arch_setup ARCH                      sets deb_multiarch, deb_ldso, deb_qualifier
#   deb_resolve DEBS KERNEL_META TOP...      DEBS/packages.txt: kernel, TOP, library closure
#   deb_fetch DEBS                           downloads the packages not in DEBS yet
#   deb_extract DEBS KROOT SYSROOT MANIFEST  kernel into KROOT, the rest into SYSROOT
#   deb_kernel_version KROOT                 prints the one kernel version in KROOT
#   deb_copy_modules KROOT KVER DEST MOD...  the modules and their dependencies, + depmod
#   deb_copy_libs ROOTFS SYSROOT FILE...     the NEEDED closure of FILEs (in ROOTFS) + ld.so
# Needs: apt-get/apt-cache (+ network the first time), dpkg-deb, kmod, readelf (binutils).

# Debian architecture name (amd64, arm64) -> multiarch triple, dynamic loader, and the
# `:arch` qualifier apt needs for a foreign architecture (empty for the native one).
deb_arch_setup() {
  case "$1" in
    amd64) deb_multiarch=x86_64-linux-gnu; deb_ldso=/lib64/ld-linux-x86-64.so.2 ;;
    arm64) deb_multiarch=aarch64-linux-gnu; deb_ldso=/lib/ld-linux-aarch64.so.1 ;;
    *) die "unsupported architecture $1" ;;
  esac
  deb_arch=$1
  deb_qualifier=
  [ "$1" = "$(dpkg --print-architecture)" ] || deb_qualifier=":$1"
}

# The package lists are there (apt-get update once, as root, when they are not). A foreign
# architecture is added to dpkg first (needed for apt to see its packages; nothing of it is
# installed).
deb_apt_ready() {
  if [ -n "$deb_qualifier" ] && ! dpkg --print-foreign-architectures | grep -qx "$deb_arch"; then
    [ "$(id -u)" = 0 ] || die "run 'dpkg --add-architecture $deb_arch && apt-get update' as root"
    log "dpkg --add-architecture $deb_arch"
    dpkg --add-architecture "$deb_arch"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
  fi
  apt-cache show "busybox-static$deb_qualifier" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "the apt package lists are empty; run 'apt-get update' as root"
  log "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
}

# The package list: the kernel package behind KERNEL_META (e.g. linux-image-amd64), the TOP
# packages, and every library package in their dependency closure (libelogind0 is an
# alternative to libsystemd0 that ships the same soname, so it is left out). Resolved once,
# then kept with the cache in DEBS/packages.txt.
deb_resolve() {
  local debs=$1 meta=$2 kpkg
  shift 2
  # Resolved again when the top of the list changed.
  if [ -s "$debs/packages.txt" ] && [ "$(cat "$debs/packages.top" 2>/dev/null)" = "$meta $*" ]; then
    return 0
  fi
  deb_apt_ready
  kpkg=$(apt-cache depends "$meta$deb_qualifier" | awk '/Depends: linux-image-/ {print $2; exit}')
  kpkg=${kpkg%:*}
  [ -n "$kpkg" ] || die "no kernel package behind $meta"
  {
    echo "$kpkg"
    printf '%s\n' "$@"
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${@/%/$deb_qualifier}" \
      | sed 's/:.*//' | grep -E '^lib' | grep -vE '^(libelogind|libpam-)|-(dev|perl)$' | sort -u
  } | awk '!seen[$0]++' >"$debs/packages.txt.tmp"
  mv "$debs/packages.txt.tmp" "$debs/packages.txt"
  echo "$meta $*" >"$debs/packages.top"
}

# Downloads the packages of DEBS/packages.txt that are not in DEBS yet.
deb_fetch() {
  local debs=$1 p
  local -a packages missing=()
  mapfile -t packages <"$debs/packages.txt"
  for p in "${packages[@]}"; do
    compgen -G "$debs/${p}_*_${deb_arch}.deb" >/dev/null \
      || compgen -G "$debs/${p}_*_all.deb" >/dev/null || missing+=("$p$deb_qualifier")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  deb_apt_ready
  log "downloading ${#missing[@]} packages"
  (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null) \
    || die "apt-get download failed (${missing[*]})"
}

# Unpacks the first package (the kernel) into KROOT and the others into SYSROOT; appends
# "package version" lines to MANIFEST.
deb_extract() {
  local debs=$1 kroot=$2 sysroot=$3 manifest=$4 p deb first=1
  local -a packages
  mapfile -t packages <"$debs/packages.txt"
  for p in "${packages[@]}"; do
    deb=$( { compgen -G "$debs/${p}_*_${deb_arch}.deb" || compgen -G "$debs/${p}_*_all.deb"; } \
      | sort | tail -n1)
    [ -n "$deb" ] || die "package $p is not in $debs"
    dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$manifest"
    if [ "$first" = 1 ]; then
      dpkg-deb -x "$deb" "$kroot"
      first=0
    else
      dpkg-deb -x "$deb" "$sysroot"
    fi
  done
}

deb_kernel_version() {
  local kver
  kver=$(ls "$1/lib/modules")
  [ "$(echo "$kver" | wc -w)" = 1 ] || die "expected one kernel version, found: $kver"
  echo "$kver"
}

# Copies modules MOD... of the kernel in KROOT (and what they depend on) into DEST, with the
# builtin lists, then runs depmod over DEST. A module that is built in or missing is skipped
# with a note (Debian builds some drivers in on one architecture and as modules on another).
deb_copy_modules() {
  local kroot=$1 kver=$2 dest=$3 m kind path rel
  shift 3
  [ -f "$kroot/lib/modules/$kver/modules.dep" ] || depmod -b "$kroot" "$kver"
  mkdir -p "$dest/lib/modules/$kver"
  for m in "$@"; do
    if ! modprobe -d "$kroot" -S "$kver" --show-depends "$m" >"$dest/.deps" 2>/dev/null; then
      log "module $m: not in this kernel, skipped"
      continue
    fi
    while read -r kind path _; do
      [ "$kind" = insmod ] || continue
      rel=${path#"$kroot"/}
      mkdir -p "$dest/$(dirname "$rel")"
      cp "$path" "$dest/$rel"
    done <"$dest/.deps"
  done
  rm -f "$dest/.deps"
  cp "$kroot/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$dest/lib/modules/$kver/"
  depmod -b "$dest" "$kver"
}

# Copies into ROOTFS the shared libraries (from SYSROOT) that FILE... (paths inside ROOTFS)
# need, transitively, and the dynamic loader; /usr/lib/<multiarch> is a link to
# /lib/<multiarch>.
deb_copy_libs() {
  local rootfs=$1 sysroot=$2 f so src d ldname
  shift 2
  local -a queue=() libdirs=("$sysroot/lib/$deb_multiarch" "$sysroot/usr/lib/$deb_multiarch")
  local lib=$rootfs/lib/$deb_multiarch
  mkdir -p "$lib" "$rootfs/usr/lib" "$rootfs$(dirname "$deb_ldso")"
  [ -e "$rootfs/usr/lib/$deb_multiarch" ] || ln -s "../../lib/$deb_multiarch" "$rootfs/usr/lib/$deb_multiarch"
  _deb_find_lib() {
    for d in "${libdirs[@]}"; do
      [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
  }
  for f in "$@"; do queue+=("$rootfs$f"); done
  while [ "${#queue[@]}" -gt 0 ]; do
    f=${queue[0]}
    queue=("${queue[@]:1}")
    for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -e "$lib/$so" ] && continue
      src=$(_deb_find_lib "$so") || die "no package in the closure ships $so (needed by ${f#"$rootfs"})"
      cp -L "$src" "$lib/$so"
      queue+=("$lib/$so")
    done
  done
  ldname=$(basename "$deb_ldso")
  [ -e "$lib/$ldname" ] || cp -L "$(_deb_find_lib "$ldname")" "$lib/$ldname"
  [ -e "$rootfs$deb_ldso" ] || ln -s "/lib/$deb_multiarch/$ldname" "$rootfs$deb_ldso"
}
