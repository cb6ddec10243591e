#!/usr/bin/env bash
# The project's whole test suite, as CI runs it (see README.md, "Run the tests").
# Installs what it needs (rustup components, cargo-fuzz), then: fmt, clippy, unit/integration
# tests, and every fuzz target for a short bounded time.
#
#   tests/run-all.sh                 everything
#   FUZZ_SECONDS=60 tests/run-all.sh longer fuzzing (default 10 s per target)
#   SKIP_FUZZ=1 tests/run-all.sh     no fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
# Debian packages the tests need, one per line in tests/apt-packages.txt (`#` comments).
# Installed only when one is missing, so a prepared machine needs no network.
mapfile -t wanted < <(sed -e 's/#.*//' tests/apt-packages.txt | awk 'NF { print $1 }')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "missing Debian packages: ${missing[*]}; install them or run as root" >&2
    exit 1
  fi
fi

step "interop VM image (tests/vm/build.sh)"
# Debian's kernel and an initramfs with pppd, pptpd and pptp-linux; downloads the packages the
# first time (apt), then cached under target/vm. The vm_* tests fail if it is missing.
tests/vm/build.sh

step "appliance image (appliance-image/build.sh x86_64 --no-xz)"
# The x86_64 disk image the appliance-image boot tests run in QEMU: a release build of routerd,
# routerctl and the plugins, Debian's kernel, busybox and glibc (apt, cached under
# target/appliance). The tests fail if it is missing.
appliance-image/build.sh x86_64 --no-xz

step "appliance image (appliance-image/build.sh aarch64 --no-xz)"
# The aarch64 image for appliance-image/tests/boot_aarch64.rs: a release build cross-linked
# with Debian's gcc-aarch64-linux-gnu (installed with the rustup target when missing) into
# target/cross, Debian's arm64 kernel, busybox and glibc (cached under target/appliance).
appliance-image/build.sh aarch64 --no-xz

step "toolchain components"
if command -v rustup >/dev/null; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
if [ "${SKIP_FUZZ:-0}" != 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version 0.13.2
fi

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz targets, ${FUZZ_SECONDS:-10} s each"
  tests/fuzz/run-all.sh "${FUZZ_SECONDS:-10}"
fi

step "all tests passed"
