#!/usr/bin/env bash
# Boots a dialgate appliance image in QEMU (TCG unless --kvm), as a box on two networks:
#   lan0  QEMU user-mode network; the web UI (443, 80) is forwarded to the host's 127.0.0.1
#         (ports below); routerd's metrics stay on the box's loopback
#   wan0  a tap inside a network namespace this script creates (10.77.10.1/24 on the host
#         side, the box is 10.77.10.2): PPTP clients there reach the box with TCP 1723 + GRE,
#         which user-mode networking cannot carry. Needs root (namespace, tap).
# and with serial ports bound to host ptys (printed at start): COM2 (guest ttyS1) and a
# 4-port PCI 16550 card (guest ttyS4..ttyS7 on x86_64, ttyS0..ttyS3 on aarch64), so a
# caller can dial in over a "modem line" (e.g. pppd or routerd's serial link on the pty).
#
#   appliance-image/run-qemu.sh [options] IMAGE
#     --bios               x86_64: boot through SeaBIOS (legacy) instead of OVMF (UEFI)
#     --kvm                use KVM (only where /dev/kvm can boot a stock kernel)
#     --snapshot           discard the disk writes when QEMU exits (the image stays as built)
#     --netns NAME         put the tap in this existing namespace (not deleted on exit)
#     --no-tap             no wan0 tap and no namespace (no root needed)
#     --console stdio|mon  console on stdin/stdout: plain (scripts) or with QEMU's monitor
#                          multiplexed (default; Ctrl-A X quits, Ctrl-A C the monitor)
#     --https-port N --http-port N   host ports (default 8443, 8080)
#     --mem MB --smp N     guest memory (default 512) and CPUs (default 2 on aarch64, 1 on x86_64)
#     --pty-file FILE      also write "guest-device host-pty" lines to FILE
# The architecture follows the image's name (dialgate-<arch>.img).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "run-qemu.sh: $*" >&2; exit 1; }
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

bios=0 kvm=0 snapshot=0 netns= tap=1 console=mon
https_port=8443 http_port=8080 mem=512 smp= pty_file= image=
while [ $# -gt 0 ]; do
  case "$1" in
    --bios) bios=1 ;;
    --kvm) kvm=1 ;;
    --snapshot) snapshot=1 ;;
    --netns) netns=${2:?}; shift ;;
    --no-tap) tap=0 ;;
    --console) console=${2:?}; shift ;;
    --https-port) https_port=${2:?}; shift ;;
    --http-port) http_port=${2:?}; shift ;;
    --mem) mem=${2:?}; shift ;;
    --smp) smp=${2:?}; shift ;;
    --pty-file) pty_file=${2:?}; shift ;;
    -h | --help) usage ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$image" ] || die "one image only"; image=$1 ;;
  esac
  shift
done
[ -n "$image" ] || usage
[ -f "$image" ] || die "no image $image (build one: appliance-image/build.sh x86_64)"
case "$(basename "$image")" in
  *aarch64*) arch=aarch64 ;;
  *) arch=x86_64 ;;
esac
# Two CPUs on aarch64 (multi-threaded TCG starts routerd and the web UI side by side: 8.6 s
# to the web UI instead of 9.9 on a 2-core host); one on x86_64, where a second one makes
# OVMF and the kernel slower than it saves (tests/bench/boot-time.sh).
[ -n "$smp" ] || { [ "$arch" = aarch64 ] && smp=2 || smp=1; }

qemu=(-nodefaults -no-user-config -display none -m "$mem" -smp "$smp")
# TCG: x86 "max"; on aarch64 a Cortex-A72 (the Raspberry Pi 4's core), since "max" emulates
# pointer authentication with the QARMA cipher, which is slow under TCG.
if [ "$kvm" = 1 ]; then
  qemu+=(-accel kvm -cpu host)
elif [ "$arch" = aarch64 ]; then
  qemu+=(-accel tcg -cpu cortex-a72)
else
  qemu+=(-accel tcg -cpu max)
fi
vars=
case "$arch" in
  x86_64)
    qemu=(qemu-system-x86_64 -M q35 "${qemu[@]}")
    if [ "$bios" = 0 ]; then
      code=/usr/share/OVMF/OVMF_CODE_4M.fd
      [ -f "$code" ] || die "no $code: apt-get install ovmf"
      vars=$(mktemp "${TMPDIR:-/tmp}/dialgate-ovmf-vars.XXXXXX")
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
      qemu+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
        -drive "if=pflash,format=raw,unit=1,file=$vars")
    fi
    card_first=4
    ;;
  aarch64)
    [ "$bios" = 0 ] || die "--bios is for x86_64"
    qemu=(qemu-system-aarch64 -M virt "${qemu[@]}")
    code=/usr/share/AAVMF/AAVMF_CODE.fd
    [ -f "$code" ] || die "no $code: apt-get install qemu-efi-aarch64"
    vars=$(mktemp "${TMPDIR:-/tmp}/dialgate-aavmf-vars.XXXXXX")
    cp /usr/share/AAVMF/AAVMF_VARS.fd "$vars"
    # AAVMF waits 5 s for a key before it boots, unless QEMU's boot menu says 0 ms (fw_cfg
    # etc/boot-menu-wait): half of the boot under TCG otherwise.
    qemu+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
      -drive "if=pflash,format=raw,unit=1,file=$vars" -boot menu=on,splash-time=0)
    card_first=0
    ;;
esac
command -v "${qemu[0]}" >/dev/null || die "${qemu[0]} is missing (apt-get install qemu-system-x86 / qemu-system-arm)"
command -v socat >/dev/null || die "socat is missing (apt-get install socat)"

snap=
# A snapshot's writes are thrown away: the guest's flushes need not reach the host's disk (under
# a host busy writing, each one took up to hundreds of milliseconds of the boot).
[ "$snapshot" = 1 ] && snap=,snapshot=on,cache=unsafe
qemu+=(-drive "if=none,id=disk0,format=raw,file=$image$snap" -device virtio-blk-pci,drive=disk0,bootindex=0
  -device virtio-rng-pci
  -netdev "user,id=lan,hostfwd=tcp:127.0.0.1:$https_port-:443,hostfwd=tcp:127.0.0.1:$http_port-:80"
  -device virtio-net-pci,netdev=lan,addr=03.0,mac=52:54:00:d1:a1:10,romfile=)

# The wan0 tap: QEMU opens it here (the user-mode forwards must bind the host's loopback, so
# QEMU stays in this namespace), then it moves into the namespace; an open tap keeps working
# across the move.
own_ns=0
tapname=
if [ "$tap" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "the wan0 tap needs root (or pass --no-tap)"
  tapname=dgq$$
  if [ -z "$netns" ]; then
    netns=dialgate-qemu-$$
    ip netns add "$netns"
    ip -n "$netns" link set lo up
    own_ns=1
  fi
  ip tuntap add dev "$tapname" mode tap
  ip link set "$tapname" up
  qemu+=(-netdev "tap,id=wan,ifname=$tapname,script=no,downscript=no"
    -device virtio-net-pci,netdev=wan,addr=04.0,mac=52:54:00:d1:a1:11,romfile=)
fi

# Serial: the console first, then COM2 and the 4-port card on host ptys.
case "$console" in
  mon) qemu+=(-serial mon:stdio) ;;
  stdio) qemu+=(-serial stdio) ;;
  *) die "--console stdio or mon" ;;
esac
if [ "$arch" = x86_64 ]; then
  qemu+=(-chardev pty,id=com2 -serial chardev:com2)
fi
qemu+=(-chardev pty,id=card0 -chardev pty,id=card1 -chardev pty,id=card2 -chardev pty,id=card3
  -device pci-serial-4x,chardev1=card0,chardev2=card1,chardev3=card2,chardev4=card3)

# QEMU starts paused with a monitor socket: the runner reads the ptys QEMU made, moves the tap
# into the namespace, then lets the guest run.
rundir=$(mktemp -d "${TMPDIR:-/tmp}/dialgate-qemu.XXXXXX")
qemu+=(-S -monitor "unix:$rundir/monitor.sock,server=on,wait=off")
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "$tapname" ]; then
    ip -n "$netns" link del "$tapname" 2>/dev/null || ip link del "$tapname" 2>/dev/null || true
  fi
  if [ "$own_ns" = 1 ]; then ip netns del "$netns" 2>/dev/null || true; fi
  rm -rf "$rundir" ${vars:+"$vars"}
}
trap cleanup EXIT
trap 'exit 130' INT TERM

monitor() {
  printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$rundir/monitor.sock" 2>/dev/null | tr -d '\r'
}
"${qemu[@]}" <&0 &
pid=$!
for _ in $(seq 200); do
  [ -S "$rundir/monitor.sock" ] && break
  kill -0 "$pid" 2>/dev/null || die "QEMU did not start"
  sleep 0.05
done
# The ptys, as the monitor's "info chardev" names them ("card0: filename=pty:/dev/pts/3").
guest_name() {
  case "$1" in
    com2) echo ttyS1 ;;
    card*) echo "ttyS$((card_first + ${1#card}))" ;;
  esac
}
ptys=$(monitor "info chardev" | sed -n 's/^\(com2\|card[0-9]\): filename=pty:\(.*\)$/\1 \2/p' \
  | while read -r label pty; do echo "$(guest_name "$label") $pty"; done | sort -V)
if [ -n "$pty_file" ]; then echo "$ptys" >"$pty_file"; fi

if [ -n "$tapname" ]; then
  ip link set "$tapname" netns "$netns"
  ip -n "$netns" addr add 10.77.10.1/24 dev "$tapname"
  ip -n "$netns" link set "$tapname" up
fi

{
  echo "run-qemu.sh: $arch $([ "$bios" = 1 ] && echo BIOS || echo UEFI), $([ "$kvm" = 1 ] && echo KVM || echo TCG), image $image$([ "$snapshot" = 1 ] && echo " (snapshot)")"
  echo "  web UI     https://127.0.0.1:$https_port/  (http://127.0.0.1:$http_port/ redirects)"
  echo "             first boot: open it, enter the setup code the console prints, set the admin password"
  if [ -n "$tapname" ]; then
    echo "  wan0       ip netns exec $netns ...   (host side 10.77.10.1/24, box 10.77.10.2)"
  fi
  echo "$ptys" | while read -r dev pty; do
    if [ -n "$dev" ]; then echo "  serial     guest $dev <-> host $pty"; fi
  done
  if [ "$console" = mon ]; then echo "  console    here (Ctrl-A X quits QEMU)"; fi
} >&2
monitor cont >/dev/null

status=0
wait "$pid" || status=$?
pid=
exit "$status"
