#!/usr/bin/env bash
# PPTP server load benchmark (issue 4): concurrent sessions, server memory per session, session
# setups per second. Root only: it makes network namespaces.
#
#   netns lg (pptp-loadgen)            netns srv (routerd + pptp plugin)       netns lan
#   sources 10.99.0.0/20 on lgv  ----  srv 10.98.0.1/30, pool 10.100.0.0/16 -- lan 10.97.0.2/24
#   (one /32 each), 10.98.0.2/30       dialgate0 (TUN), forwarding             (answers pings)
#
# Every session is complete: TCP 1723, Start-Control-Connection, Outgoing-Call, LCP,
# MS-CHAPv2, CCP/MPPE-128, IPCP, then an ICMP echo to the LAN host, answered through the
# tunnel. The load generator ramps up to SESSIONS at the rate its in-flight bound allows,
# holds them, the server's RSS is sampled (VmRSS/VmHWM from /proc), then every session is
# closed politely and the final reports are printed.
#
# usage: tests/bench/pptp-load.sh [options]
#   --sessions N          sessions to hold (default 20000)
#   --in-flight N         setups in flight at once (default 512)
#   --rate R              setups started per second (default: as fast as --in-flight allows)
#   --sources CIDR        loadgen source addresses (default 10.99.0.0/20: 4094 addresses)
#   --calls-per-connection K   (default 1; raised when the open-file limit, which needs
#                         CAP_SYS_RESOURCE to lift, cannot hold one TCP socket per session)
#   --gre-socket shared|per-source  (default shared)
#   --server routerd|testserver     the server under test (default routerd); testserver is
#                         the load generator's own minimal server, to measure its ceiling
#   --hold SECS           seconds to hold the sessions after the ramp (default 5)
#   --threads N           load generator worker threads (default 1, the least CPU per setup)
#   --users N             distinct users load1..loadN (default 100)
#   --keep                keep the namespaces and processes (debugging)
#   --no-build            use the release binaries already built
# Prints the figures and the exact loadgen command; the JSON reports go to $OUT (default
# /tmp/pptp-load.<pid>).
set -euo pipefail
cd "$(dirname "$0")/../.."

sessions=20000 in_flight=512 rate="" sources=10.99.0.0/20 calls=1 gre=shared server=routerd
hold=5 users=100 keep=0 build=1 threads=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sessions) sessions=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --calls-per-connection) calls=$2; shift 2 ;;
    --gre-socket) gre=$2; shift 2 ;;
    --server) server=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "pptp-load.sh: needs root (network namespaces)" >&2; exit 2; }
command -v ip >/dev/null || { echo "pptp-load.sh: needs iproute2" >&2; exit 2; }

OUT=${OUT:-/tmp/pptp-load.$$}
mkdir -p "$OUT"
tag=$$
NS_SRV=plsrv$tag NS_LG=pllg$tag NS_LAN=pllan$tag
SRV_ADDR=10.98.0.1 LG_ADDR=10.98.0.2 LAN_ROUTER=10.97.0.1 LAN_HOST=10.97.0.2
PASSWORD=bench-secret
pids=()

cleanup() {
  local rc=$?
  if [[ $keep == 0 ]]; then
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for ns in "$NS_LG" "$NS_SRV" "$NS_LAN"; do ip netns del "$ns" 2>/dev/null || true; done
  else
    echo "kept: namespaces $NS_SRV $NS_LG $NS_LAN, processes ${pids[*]}, files $OUT"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

if [[ $build == 1 ]]; then
  echo "== building release binaries"
  pkgs=(-p dialgate-loadgen)
  [[ $server == routerd ]] && pkgs+=(-p dialgate-routerd -p dialgate-plugin-pptp)
  cargo build --release --locked "${pkgs[@]}" >"$OUT/build.log" 2>&1 ||
    { tail -30 "$OUT/build.log"; exit 1; }
fi
BIN=target/release
LOADGEN=$PWD/$BIN/pptp-loadgen

echo "== namespaces"
for ns in "$NS_SRV" "$NS_LG" "$NS_LAN"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add lgv netns "$NS_LG" type veth peer name srvv netns "$NS_SRV"
ip link add lanv netns "$NS_LAN" type veth peer name srvl netns "$NS_SRV"
ip -n "$NS_SRV" addr add $SRV_ADDR/30 dev srvv
ip -n "$NS_SRV" addr add $LAN_ROUTER/24 dev srvl
ip -n "$NS_LG" addr add $LG_ADDR/30 dev lgv
ip -n "$NS_LAN" addr add $LAN_HOST/24 dev lanv
for l in "$NS_SRV srvv" "$NS_SRV srvl" "$NS_LG lgv" "$NS_LAN lanv"; do
  set -- $l; ip -n "$1" link set "$2" up
done
# The sources are /32s on the loadgen's veth; the server routes them back through it, so it
# keeps one neighbour entry, not thousands.
ip -n "$NS_SRV" route add "$sources" via $LG_ADDR
awk -v spec="$sources" 'BEGIN {
  split(spec, p, "/"); split(p[1], o, ".");
  base = ((o[1] * 256 + o[2]) * 256 + o[3]) * 256 + o[4]; n = 2 ^ (32 - p[2]);
  for (i = 1; i < n - 1; i++) { a = base + i;
    printf "addr add %d.%d.%d.%d/32 dev lgv\n", int(a / 16777216), int(a / 65536) % 256, int(a / 256) % 256, a % 256 }
}' >"$OUT/addrs.batch"
ip -n "$NS_LG" -batch "$OUT/addrs.batch"
ip -n "$NS_LAN" route add 10.100.0.0/16 via $LAN_ROUTER
# Kernel limits, in the namespaces where they are per namespace.
ip netns exec "$NS_SRV" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
  net.ipv4.ip_forward=1
ip netns exec "$NS_LG" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
# Descriptors: one TCP socket per control connection on each side. Raise the limit as far as
# this machine lets us (without CAP_SYS_RESOURCE the hard limit is the ceiling).
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"
fds=$(ulimit -n)
conns=$(( (sessions + calls - 1) / calls ))
while (( conns + 64 > fds )); do
  # Each side holds one TCP socket per control connection; without CAP_SYS_RESOURCE the
  # hard limit cannot be raised, so carry more calls per connection (RFC 2637 allows many).
  calls=$(( calls + 1 )); conns=$(( (sessions + calls - 1) / calls ))
  echo "NOTE: open-file limit $fds: $calls calls per control connection ($conns connections)" >&2
done

echo "== server: $server"
if [[ $server == routerd ]]; then
  state=$OUT/state; mkdir -p "$state"
  cat >"$OUT/routerd.toml" <<EOF
[system]
hostname = "bench"
plugin_dir = "$PWD/$BIN"
state_dir = "$state"
log_level = "warn"

[management]
socket = "$OUT/routerd.sock"

[tun]
name = "dialgate0"

[limits]
max_sessions = $((sessions + 1000))

[accounting]
enabled = false

[lan]
interface = "srvl"
proxy_arp = false

[[pool]]
name = "bench"
ranges = ["10.100.0.1-10.100.255.254"]
local_address = "10.97.0.1"

[[plugin]]
name = "pptp"
file = "libdialgate_plugin_pptp.so"

[[link]]
name = "pptp-in"
plugin = "pptp"
role = "answer"
pool = "bench"
[link.config]
listen = ["$SRV_ADDR:1723"]
max_connections_per_source = 64
max_sessions = $(( sessions + 1000 > 65535 ? 65535 : sessions + 1000 ))
call_setup_timeout_secs = 60
EOF
  "$BIN/routerd" --check-config "$OUT/routerd.toml" >/dev/null
  ip netns exec "$NS_SRV" "$BIN/routerd" --config "$OUT/routerd.toml" >"$OUT/routerd.log" 2>&1 &
  srv_pid=$!
else
  ip netns exec "$NS_SRV" "$BIN/pptp-testserver" --listen $SRV_ADDR --user 'load{n}' \
    --users "$users" --password "$PASSWORD" --pool 10.100.0.1 --pool-size 65000 \
    >"$OUT/testserver.log" 2>&1 &
  srv_pid=$!
fi
pids+=("$srv_pid")
for _ in $(seq 1 100); do
  ip netns exec "$NS_SRV" ss -Hltn "sport = :1723" | grep -q 1723 && break
  kill -0 "$srv_pid" 2>/dev/null || { echo "server died:"; tail -20 "$OUT"/*.log; exit 1; }
  sleep 0.1
done
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# CPU time (user + system, clock ticks) a process has used; what follows the command name.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
hz=$(getconf CLK_TCK)
if [[ $server == routerd ]]; then
  echo "== $users users (routerctl users set-password)"
  for n in $(seq 1 "$users"); do
    echo "$PASSWORD" | ip netns exec "$NS_SRV" "$BIN/routerctl" --socket "$OUT/routerd.sock" \
      users set-password "load$n" >/dev/null
  done
fi
sleep 1
base_rss=$(rss "$srv_pid" VmRSS)
echo "server pid $srv_pid, VmRSS at rest ${base_rss} KiB"

lg_cmd=("$LOADGEN" --target $SRV_ADDR --sources "$sources" --user 'load{n}' --users "$users"
  --password "$PASSWORD" --sessions "$sessions" --in-flight "$in_flight"
  --calls-per-connection "$calls" --gre-socket "$gre" --pings 1 --ping-target $LAN_HOST
  --setup-timeout 60 --json)
[[ -n $rate ]] && lg_cmd+=(--rate "$rate")
[[ -n $threads ]] && lg_cmd+=(--threads "$threads")
echo "== load: ip netns exec $NS_LG ${lg_cmd[*]}"
ip netns exec "$NS_LG" "${lg_cmd[@]}" >"$OUT/loadgen.jsonl" 2>"$OUT/loadgen.err" &
lg_pid=$!
pids+=("$lg_pid")
srv_cpu0=$(cpu_ticks "$srv_pid")

# Wait until every setup has finished (up or failed), sampling the server's peak RSS.
peak_rss=0 last=""
while kill -0 "$lg_pid" 2>/dev/null; do
  sleep 1
  r=$(rss "$srv_pid" VmRSS || echo 0); (( r > peak_rss )) && peak_rss=$r
  last=$(tail -n 1 "$OUT/loadgen.jsonl" 2>/dev/null || true)
  [[ -z $last ]] && continue
  read -r up failed in_setup active < <(python3 -c '
import json,sys; r=json.loads(sys.argv[1]); print(r["up"], r["failed"], r["in_setup"], r["active"])' "$last")
  printf '   up %6s active %6s in-setup %5s failed %5s server VmRSS %s KiB\n' \
    "$up" "$active" "$in_setup" "$failed" "$r"
  (( up + failed >= sessions && in_setup == 0 )) && break
done
# CPU spent on the ramp by each side (setup work; softirq work is charged to whichever
# process the kernel ran it under, mostly the sender of a packet).
srv_cpu=$(( $(cpu_ticks "$srv_pid") - srv_cpu0 )) lg_cpu=$(cpu_ticks "$lg_pid")
echo "== holding $hold s"
sleep "$hold"
held_rss=$(rss "$srv_pid" VmRSS); hwm=$(rss "$srv_pid" VmHWM)
(( held_rss > peak_rss )) && peak_rss=$held_rss
echo "== closing every session"
kill -INT "$lg_pid" 2>/dev/null || true
wait "$lg_pid" || true
final=$(grep '"kind":"final"' "$OUT/loadgen.jsonl" | tail -n 1)
after_rss=$(rss "$srv_pid" VmRSS)

python3 - "$final" "$base_rss" "$held_rss" "$peak_rss" "$hwm" "$after_rss" "$sessions" \
  "$srv_cpu" "$lg_cpu" "$hz" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
base, held, peak, hwm, after, want, srv_cpu, lg_cpu, hz = map(int, sys.argv[2:])
per = (held - base) / max(r["peak"], 1)
print("== result")
print(f"concurrent sessions reached: {r['peak']} (target {want}; 20000 in the issue)")
print(f"setups per second: {r['setup_rate_overall']:.0f} over a ramp of {r['ramp_s']:.1f} s (target >= 2000)")
l = r["latency_ms"]
print(f"setup latency ms: p50 {l['p50']:.1f} p90 {l['p90']:.1f} p99 {l['p99']:.1f} max {l['max']:.1f}")
print(f"failed setups: {r['failed']} {r['failures']} timeouts {r['timeouts']}; lost while held: {r['dropped']}")
print(f"echo: {r['echo_sent']} sent, {r['echo_answered']} answered")
print(f"server VmRSS KiB: at rest {base}, holding {held}, peak {peak}, VmHWM {hwm}, after close {after}")
print(f"server memory per session: {per:.2f} KiB (VmRSS growth / sessions held; target <= 16)")
up = max(r["up"], 1)
print(f"CPU per setup during the ramp: server {1e6 * srv_cpu / hz / up:.0f} us, "
      f"load generator {1e6 * lg_cpu / hz / up:.0f} us (user + system over the sessions up)")
PY
