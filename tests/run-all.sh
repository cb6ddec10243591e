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
# The end-to-end tests build network namespaces with iproute2's `ip`.
if ! command -v ip >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2
  else
    echo "iproute2 (the ip command) is missing; install it or run as root" >&2
    exit 1
  fi
fi

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
