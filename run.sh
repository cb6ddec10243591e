#!/usr/bin/env bash
# The main job, two ways:
#
#   ./run.sh [--keep] [run-qemu.sh options]
#       The appliance: builds the x86_64 disk image (appliance-image/build.sh: release build,
#       Debian kernel and busybox, our binaries) and boots it in QEMU (appliance-image/
#       run-qemu.sh, TCG), where routerd runs on its embedded default configuration and the
#       web UI is forwarded to https://127.0.0.1:8443/. First boot: open the web UI, enter the
#       one-time setup code the console prints, and set the admin password. The box's disk is a copy of the built image
#       (target/appliance/run/dialgate-x86_64.img), made afresh each run; --keep boots the
#       box of the last run again, with its configuration. As root the box also gets its WAN
#       tap in a network namespace (PPTP from the host); without root it runs with --no-tap.
#       The console is this terminal (Ctrl-A X quits QEMU).
#
#   ./run.sh --host
#       routerd on this machine: builds routerd, routerctl and the link plugins (release),
#       then runs routerd on its embedded default configuration (`routerd
#       --print-default-config` shows it) until Ctrl-C, which stops it cleanly (every session
#       ends with a reason and an accounting record, kernel settings are put back).
#
# The default configuration is safe to start anywhere: it serves the management API on a
# local unix socket and Prometheus metrics on 127.0.0.1:9633, brings up the TUN device
# (dialgate0), and serves no link and no user until you add them; it changes no forwarding
# setting. Once a configuration is applied (routerctl config apply), routerd starts with that
# one next time (kept with its history in the state directory).
#
# In --host mode routerd needs root (TUN device, routes, sysctls); the build runs as you,
# routerd through sudo when you are not root.
#
#   ./run.sh --host                                  state in /var/lib/dialgate
#   DIALGATE_STATE_DIR=/tmp/dg ./run.sh --host       elsewhere
#   DIALGATE_SOCKET=/tmp/dg/routerd.sock ./run.sh --host
set -euo pipefail
cd "$(dirname "$0")"
repo=$(pwd)
bin="$repo/target/release"
state_dir=${DIALGATE_STATE_DIR:-/var/lib/dialgate}
socket=${DIALGATE_SOCKET:-/run/dialgate/routerd.sock}

if [ "${1:-}" != "--host" ] && [ "${1:-}" != "--built" ]; then
    # The appliance in QEMU.
    keep=0
    if [ "${1:-}" = "--keep" ]; then
        keep=1
        shift
    fi
    echo "==> building the x86_64 appliance image (appliance-image/build.sh x86_64)"
    appliance-image/build.sh x86_64 --no-xz
    built="$repo/target/appliance/x86_64/dialgate-x86_64.img"
    box="$repo/target/appliance/run/dialgate-x86_64.img"
    mkdir -p "$(dirname "$box")"
    if [ "$keep" = 1 ] && [ -f "$box" ]; then
        echo "==> the box of the last run, with its configuration: $box"
    else
        echo "==> a fresh box: $box (./run.sh --keep boots it again next time)"
        cp --sparse=always "$built" "$box"
    fi
    extra=()
    [ "$(id -u)" = 0 ] || extra+=(--no-tap)
    echo "==> booting it in QEMU: the web UI's address and the first-boot step follow"
    exec appliance-image/run-qemu.sh "${extra[@]}" "$@" "$box"
fi

if [ "${1:-}" != "--built" ]; then
    if ! command -v cargo >/dev/null; then
        echo "run.sh: cargo not found; install Rust with rustup (https://rustup.rs), then run me again" >&2
        exit 1
    fi
    echo "==> building routerd, routerctl and the plugins (release)"
    cargo build --release --locked -p dialgate-routerd -p dialgate-plugin-serial -p dialgate-plugin-pptp
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || {
            echo "run.sh: routerd needs root (TUN device, routes); run me as root" >&2
            exit 1
        }
        echo "==> routerd needs root (TUN device, routes): running it with sudo"
        exec sudo DIALGATE_STATE_DIR="$state_dir" DIALGATE_SOCKET="$socket" "$repo/run.sh" --built
    fi
fi

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: routerd must run as root" >&2
    exit 1
fi
# The TUN driver.
if [ ! -e /dev/net/tun ]; then
    modprobe tun 2>/dev/null || true
    [ -e /dev/net/tun ] || { echo "run.sh: /dev/net/tun is missing (load the tun module)" >&2; exit 1; }
fi

ctl="$bin/routerctl"
[ "$socket" = /run/dialgate/routerd.sock ] || ctl="$ctl --socket $socket"

"$bin/routerd" --state-dir "$state_dir" --socket "$socket" &
pid=$!
# Ctrl-C reaches routerd too (same process group); forward TERM as well, then wait for its
# clean stop.
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM

for _ in $(seq 1 100); do
    [ -S "$socket" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -S "$socket" ] && kill -0 "$pid" 2>/dev/null; then
    sudo=""
    [ -n "${SUDO_USER:-}" ] && sudo="sudo "
    cat <<EOF

==> routerd is running (pid $pid) on its embedded default configuration
    state directory    $state_dir   (configuration store and history, users, accounting log)
    management socket  $socket
    metrics            http://127.0.0.1:9633/metrics
    plugins            $bin/libdialgate_plugin_serial.so
                       $bin/libdialgate_plugin_pptp.so
    It serves no link and no user yet. In another terminal, try:
      ${sudo}$ctl status
      ${sudo}$ctl config show
      ${sudo}$ctl users set-password alice
      ${sudo}$ctl config apply FILE
      ${sudo}$ctl sessions
      ${sudo}$ctl logs
    (config apply takes a whole configuration: start from \`routerd --print-default-config\`
    and add [[plugin]], [[pool]] and [[link]] tables; core/routerd/config/examples/ has a
    PPTP server and client.)
    Ctrl-C stops routerd.

EOF
fi

status=0
wait "$pid" || status=$?
# A signal interrupts `wait` (status > 128) before routerd finished stopping: wait again.
if kill -0 "$pid" 2>/dev/null; then
    status=0
    wait "$pid" || status=$?
fi
exit "$status"
