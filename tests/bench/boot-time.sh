#!/usr/bin/env bash
# Boot time of an appliance image under QEMU TCG (issue 6: target <= 8 s to the web UI for each
# UEFI image), with the time each phase took.
#
# Boots IMAGE ROUNDS times with appliance-image/run-qemu.sh (--snapshot --no-tap, so the image
# stays as built and no root is needed) and timestamps every console line: wall seconds since
# QEMU was let run (the runner's `cont`) and QEMU's own CPU time (utime + stime of the QEMU
# process) at that line. A round ends at "@@DIALGATE webui up" (or "routerd up" for an image
# without the web UI), or fails after TIMEOUT seconds. For each round it prints the phases:
#
#   firmware   firmware, boot loader and the kernel's decompression (wall at stage 1 less the
#              guest's uptime there)
#   kernel     until stage 1 (the initramfs's /init) starts
#   stage1     until stage 2 (the root slot's /sbin/init) starts: root slot found and mounted
#   stage2     until "@@DIALGATE booted" (mounts, modules, config partition, interfaces)
#   routerd    until routerd's management socket exists
#   webui      until the web UI answers its port
#
# then the median over the rounds of the total, and the load average, since TCG is CPU-bound:
# a figure is only comparable to one taken at a similar load. The baseline in the same run is
# the firmware phase (the part of the boot the image does not control): the script prints
# total/firmware, which moves much less with load than either figure alone.
#
# usage: tests/bench/boot-time.sh [--rounds N] [--timeout S] [--log DIR] IMAGE [run-qemu.sh options]
#   IMAGE  e.g. target/appliance/x86_64/dialgate-x86_64.img (appliance-image/build.sh x86_64)
set -euo pipefail

rounds=3 timeout=300 logdir=
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --log) logdir=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) break ;;
  esac
done
image=${1:?usage: boot-time.sh [--rounds N] IMAGE [run-qemu.sh options]}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
runner=$root/appliance-image/run-qemu.sh
[ -f "$image" ] || { echo "boot-time.sh: no image $image" >&2; exit 2; }
[ -n "$logdir" ] || logdir=$(mktemp -d "${TMPDIR:-/tmp}/dialgate-boot-time.XXXXXX")
mkdir -p "$logdir"
hz=$(getconf CLK_TCK)

# CPU seconds (user + system) of the QEMU process started under the runner's PID.
qemu_cpu() {
  local q
  q=$(pgrep -P "$1" -f qemu-system 2>/dev/null | head -n1) || true
  [ -n "$q" ] || { echo 0; return; }
  awk -v hz="$hz" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$q/stat" 2>/dev/null || echo 0
}

one_round() {
  local n=$1 log=$logdir/round-$1.log
  shift
  local t0= start=$SECONDS line now cpu pid fifo
  fifo=$logdir/fifo-$n
  rm -f "$fifo"
  mkfifo "$fifo"
  "$runner" --snapshot --no-tap --console stdio "$@" "$image" </dev/null >"$fifo" 2>&1 &
  pid=$!
  local ok=1
  exec 4<"$fifo"
  : >"$log"
  while :; do
    if ! IFS= read -r -t 5 line <&4; then
      if ! kill -0 "$pid" 2>/dev/null; then ok=0; break; fi
      [ $((SECONDS - start)) -lt "$timeout" ] || { ok=0; break; }
      continue
    fi
    line=${line%$'\r'}
    now=$(date +%s.%N)
    if [ -z "$t0" ]; then
      case "$line" in run-qemu.sh:*) t0=$now ;; esac
      echo "      -      - $line" >>"$log"
      continue
    fi
    cpu=$(qemu_cpu "$pid")
    printf '%7.2f %6s %s\n' "$(awk -v a="$now" -v b="$t0" 'BEGIN { print a - b }')" "$cpu" "$line" >>"$log"
    case "$line" in
      *"@@DIALGATE webui up"*) break ;;
    esac
    [ $((SECONDS - start)) -lt "$timeout" ] || { ok=0; break; }
  done
  exec 4<&-
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$fifo"
  [ "$ok" = 1 ] || { echo "round $n: no web UI within ${timeout} s (log: $log)" >&2; return 1; }
  # Each marker carries the guest's uptime: the kernel's clock starts after the firmware, the
  # boot loader and the kernel's decompression, so wall - uptime at stage 1 is that part.
  awk -v n="$n" '
    $1 == "-" { next }
    function mark(name) { if (!(name in t)) { t[name] = $1; c[name] = $2; order[++k] = name } }
    /@@DIALGATE stage1 / && !("kernel" in t) {
      up = $NF; fw = $1 - up; fc = $2 * (fw / $1)
      t["firmware"] = fw; c["firmware"] = fc; order[++k] = "firmware"; mark("kernel")
    }
    /@@DIALGATE stage2 / { mark("stage1") }
    /@@DIALGATE booted / { mark("stage2") }
    /@@DIALGATE routerd up / { mark("routerd") }
    /@@DIALGATE webui up / { mark("webui") }
    END {
      prev = 0; pc = 0; out = ""
      for (i = 1; i <= k; i++) {
        out = out sprintf(" %s %.1f", order[i], t[order[i]] - prev)
        prev = t[order[i]]; pc = c[order[i]]
      }
      printf "round %d: total %.1f s wall, %.1f s QEMU CPU; phases (s):%s; firmware share %.2f\n",
        n, prev, pc, out, (t["firmware"] > 0 ? prev / t["firmware"] : 0)
    }' "$log"
}

echo "boot-time.sh: $image, $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg), logs in $logdir"
results=()
for n in $(seq "$rounds"); do
  r=$(one_round "$n" "$@") || exit 1
  echo "$r"
  results+=("$r")
done
printf '%s\n' "${results[@]}" | awk '
  function isort(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x } }
  { for (i = 1; i <= NF; i++) if ($i == "total") { tot[NR] = $(i + 1) } 
    for (i = 1; i <= NF; i++) if ($i == "share") { sh[NR] = $(i + 1) } }
  END {
    n = 0; for (i in tot) v[++n] = tot[i]; m = 0; for (i in sh) w[++m] = sh[i]
    isort(v, n); isort(w, m); for (i = 1; i <= n; i++) tot[i] = v[i]; for (i = 1; i <= m; i++) sh[i] = w[i]
    printf "median: %.1f s to the web UI (target 8 s); total/firmware %.2f\n",
      (n % 2 ? tot[(n + 1) / 2] : (tot[n / 2] + tot[n / 2 + 1]) / 2),
      (m % 2 ? sh[(m + 1) / 2] : (sh[m / 2] + sh[m / 2 + 1]) / 2)
  }'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
