#!/usr/bin/env bash
# Boots the interop VM by hand (root): a shell on its serial console, its eth0 (10.77.9.2/24)
# on tap0 (10.77.9.1/24) inside a fresh network namespace, deleted again on exit.
#
#   tests/vm/run.sh                    interactive shell in the guest ('exit' powers it off,
#                                      Ctrl-A X quits QEMU)
#   tests/vm/run.sh --time             boot without a shell and print the boot time
#
# From another terminal, 'ip netns exec <namespace> CMD' runs CMD on the host side of the tap
# (the namespace's name is printed at start).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${DIALGATE_VM_DIR:-$here/../../target/vm}
kernel=$dir/vmlinux
[ -f "$kernel" ] || kernel=$dir/vmlinuz
[ -f "$kernel" ] && [ -f "$dir/initramfs.img" ] || { echo "no image in $dir: run tests/vm/build.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespace and tap)" >&2; exit 1; }

ns=dgvm-manual-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
ip -n "$ns" tuntap add dev tap0 mode tap
ip -n "$ns" addr add 10.77.9.1/24 dev tap0
ip -n "$ns" link set tap0 up
echo "namespace $ns: tap0 10.77.9.1/24, guest eth0 10.77.9.2/24"

qemu=(ip netns exec "$ns" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 256
  -nodefaults -no-user-config -display none -no-reboot
  -kernel "$kernel" -initrd "$dir/initramfs.img"
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no
  -device virtio-net-pci,netdev=n0,mac=52:54:00:d1:a1:01)
cmdline="console=ttyS0 quiet panic=-1 mitigations=off cryptomgr.notests 8250.nr_uarts=1 dg.addr=10.77.9.2/24"

if [ "${1:-}" = --time ]; then
  log=$(mktemp)
  start=$(date +%s%N)
  "${qemu[@]}" -serial stdio -append "$cmdline dg.timeout=120" </dev/null >"$log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -f "$log"; ip netns del "$ns"' EXIT
  for _ in $(seq 2400); do
    if grep -q '^@@DGVM ready' "$log"; then
      echo "QEMU start to the guest's command loop: $(( ($(date +%s%N) - start) / 1000000 )) ms"
      grep '^@@DGVM booted' "$log" | sed 's/^@@DGVM booted/guest uptime at network setup (s):/'
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "the guest did not boot; console:" >&2
  cat "$log" >&2
  exit 1
fi
"${qemu[@]}" -serial mon:stdio -append "$cmdline dg.shell=1 dg.timeout=3600"
