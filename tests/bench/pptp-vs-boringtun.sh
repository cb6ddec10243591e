#!/usr/bin/env bash
# Tunnel throughput of one PPTP session (MS-CHAPv2 + MPPE-128) between two routerds, against
# boringtun's userspace WireGuard measured the same way in the same run (issue 4: "tunnel
# throughput at least equal to boringtun's").
#
#   PPTP:      netns cli: iperf3 -c -> TUN -> routerd B (dials) -- veth 10.66.0.0/24, TCP 1723
#              and GRE -- netns srv: routerd A (answers) -> TUN -> iperf3 -s on 10.77.0.1
#              (routerd A's own address at the tunnel's end, as the WireGuard side has it)
#   WireGuard: netns wga: iperf3 -c -> boringtun (wg0 10.56.0.1) -- veth 10.55.0.0/24, UDP
#              51820 -- netns wgb: boringtun (wg0 10.56.0.2) -> iperf3 -s on 10.56.0.2
#
# Both ends of each tunnel are userspace daemons on this machine: two routerds, two
# boringtun-clis (foreground, --disable-drop-privileges, default threads), each configured
# with `wg set` through its UAPI socket under /var/run/wireguard/. WireGuard's interface MTU
# is wg-quick's 1420; the PPTP session's is what routerd negotiates (printed).
#
# For each test (TCP for SECONDS; with --udp also UDP at full speed in 1392-octet datagrams,
# the most WireGuard's 1420-octet MTU carries unfragmented) it prints the goodput iperf3's
# receiver saw through each tunnel and the ratio PPTP/boringtun, then the exact commands. A UDP flood through PPTP can still desynchronise MPPE (see
# dataplane-vs-veth.sh); a failed run is reported, not fatal.
#
# Installs what is missing: iperf3, jq and wireguard-tools from Debian (apt-get, no
# recommends), boringtun-cli from crates.io (`cargo install boringtun-cli --locked --root
# target/bench-tools`, kept there). A benchmark, not part of tests/run-all.sh. Needs root.
#
# usage: sudo tests/bench/pptp-vs-boringtun.sh [--no-build] [--udp] [SECONDS]   (default 5)
set -euo pipefail

build=1 udp=0
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) build=0 ;;
        --udp) udp=1 ;;
        -h | --help)
            sed -n '2,26p' "$0"
            exit 0
            ;;
        -*)
            echo "pptp-vs-boringtun: unknown option $1" >&2
            exit 2
            ;;
        *) break ;;
    esac
    shift
done
secs="${1:-5}"
cd "$(dirname "$0")/../.."
repo=$(pwd)
bench=pptp-vs-boringtun
# shellcheck source=tests/bench/lib/routerd-pair.sh
. tests/bench/lib/routerd-pair.sh

bench_start

missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iperf3 >/dev/null || missing+=(iperf3)
command -v jq >/dev/null || missing+=(jq)
command -v wg >/dev/null || missing+=(wireguard-tools)
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tools="$repo/target/bench-tools"
boringtun="$tools/bin/boringtun-cli"
if [ ! -x "$boringtun" ]; then
    echo "==> cargo install boringtun-cli --locked --root $tools"
    cargo install boringtun-cli --locked --quiet --root "$tools"
fi
if [ "$build" = 1 ]; then
    echo "==> building routerd, routerctl and the pptp plugin (release)"
    cargo build --release --locked --quiet -p dialgate-routerd -p dialgate-plugin-pptp
fi
bin="$repo/target/release"

ns_srv="dgt-srv-$tag" ns_cli="dgt-cli-$tag" ns_lan="dgt-lan-$tag"
ns_wa="dgt-wga-$tag" ns_wb="dgt-wgb-$tag"
bench_netns "$ns_srv" "$ns_cli" "$ns_lan" "$ns_wa" "$ns_wb"

# PPTP: the server's LAN (its address is the session's far end), then the session.
bench_veth "$ns_srv" "dgbs$tag" 10.77.0.1/24 "$ns_lan" "dgbl$tag" 10.77.0.2/24
routerd_pair pptp "$ns_srv" "$ns_cli" "dgbs$tag"
echo "==> PPTP session up: client $client, MTU $mtu, encryption $encryption"

# WireGuard: two boringtuns over a veth.
bench_veth "$ns_wa" "dgwa$tag" 10.55.0.1/24 "$ns_wb" "dgwb$tag" 10.55.0.2/24
wg_a="wga$tag" wg_b="wgb$tag"
bench_on_exit "rm -f /var/run/wireguard/$wg_a.sock /var/run/wireguard/$wg_b.sock"
for side in a b; do
    ns_var="ns_w$side" if_var="wg_$side"
    ip netns exec "${!ns_var}" "$boringtun" "${!if_var}" --foreground --disable-drop-privileges \
        --log "$work/boringtun-$side.log" >"$work/boringtun-$side.out" 2>&1 &
    pids+=($!)
done
for sock in "/var/run/wireguard/$wg_a.sock" "/var/run/wireguard/$wg_b.sock"; do
    bench_wait_socket "$sock" "$work/boringtun-a.out"
done
(umask 077 && wg genkey >"$work/wg-a.key" && wg genkey >"$work/wg-b.key")
pub_a=$(wg pubkey <"$work/wg-a.key")
pub_b=$(wg pubkey <"$work/wg-b.key")
in_ns "$ns_wa" wg set "$wg_a" listen-port 51820 private-key "$work/wg-a.key" \
    peer "$pub_b" endpoint 10.55.0.2:51820 allowed-ips 10.56.0.2/32
in_ns "$ns_wb" wg set "$wg_b" listen-port 51820 private-key "$work/wg-b.key" \
    peer "$pub_a" endpoint 10.55.0.1:51820 allowed-ips 10.56.0.1/32
ip -n "$ns_wa" addr add 10.56.0.1/24 dev "$wg_a"
ip -n "$ns_wb" addr add 10.56.0.2/24 dev "$wg_b"
ip -n "$ns_wa" link set "$wg_a" mtu 1420 up
ip -n "$ns_wb" link set "$wg_b" mtu 1420 up
# A datagram into the tunnel starts the handshake; wait for it to complete.
ok=0
for _ in $(seq 1 50); do
    in_ns "$ns_wa" bash -c 'echo hello >/dev/udp/10.56.0.2/9' 2>/dev/null || true
    if in_ns "$ns_wa" wg show "$wg_a" latest-handshakes | awk '$2 > 0 { f = 1 } END { exit !f }'; then
        ok=1
        break
    fi
    sleep 0.1
done
[ "$ok" = 1 ] || bench_die "no WireGuard handshake between the boringtuns; logs: $(cat "$work"/boringtun-*)"
echo "==> boringtun $("$boringtun" --version | awk '{print $NF}') up: 10.56.0.1 -> 10.56.0.2, MTU 1420, $(in_ns "$ns_wa" wg show "$wg_a" | grep -c peer) peer"

ip netns exec "$ns_srv" iperf3 -s -B 10.77.0.1 >"$work/iperf-pptp.log" 2>&1 &
pids+=($!)
ip netns exec "$ns_wb" iperf3 -s -B 10.56.0.2 >"$work/iperf-wg.log" 2>&1 &
pids+=($!)
sleep 0.5

commands=()
# run NS DST SRC IPERF_ARGS... : prints the receiver's Mbit/s, or "failed".
run() {
    local ns=$1 dst=$2 src=$3 json
    shift 3
    json=""
    if json=$(timeout $((secs + 15)) ip netns exec "$ns" iperf3 -c "$dst" -B "$src" -t "$secs" -J "$@" 2>"$work/iperf3.err") &&
        jq -er ".end.sum_received.bits_per_second / 1e6" <<<"$json" 2>/dev/null; then
        return 0
    fi
    echo "$bench: iperf3 -c $dst $* failed: $(jq -r '.error // empty' <<<"$json" 2>/dev/null) $(cat "$work/iperf3.err")" >&2
    echo failed
}

tests=(tcp)
[ "$udp" = 1 ] && tests+=(udp-1392)
printf '\n%-10s %14s %14s %10s   (load average: %s)\n' test "PPTP Mb/s" "boringtun Mb/s" "PPTP/bt" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
for t in "${tests[@]}"; do
    case $t in
        tcp) args=() ;;
        udp-1392) args=(-u -b 0 -l 1392) ;;
    esac
    # boringtun first: a UDP flood may break the PPTP session for what follows.
    commands+=("ip netns exec $ns_wa iperf3 -c 10.56.0.2 -B 10.56.0.1 -t $secs -J ${args[*]}")
    w=$(run "$ns_wa" 10.56.0.2 10.56.0.1 "${args[@]}")
    commands+=("ip netns exec $ns_cli iperf3 -c 10.77.0.1 -B $client -t $secs -J ${args[*]}")
    p=$(run "$ns_cli" 10.77.0.1 "$client" "${args[@]}")
    awk -v t="$t" -v p="$p" -v w="$w" 'BEGIN {
        if (p == "failed" || w == "failed" || w + 0 == 0)
            printf "%-10s %14s %14s %10s\n", t, (p == "failed" ? p : sprintf("%.1f", p)),
                (w == "failed" ? w : sprintf("%.1f", w)), "-"
        else
            printf "%-10s %14.1f %14.1f %9.1f%%\n", t, p, w, 100 * p / w
    }'
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "==> commands"
printf '  %s\n' \
    "ip netns exec $ns_srv $bin/routerd --config $work/a/routerd.toml  # answers, pool 10.77.0.10-20" \
    "ip netns exec $ns_cli $bin/routerd --config $work/b/routerd.toml  # dials 10.66.0.1:1723" \
    "ip netns exec $ns_wa $boringtun $wg_a --foreground --disable-drop-privileges" \
    "ip netns exec $ns_wb $boringtun $wg_b --foreground --disable-drop-privileges" \
    "ip netns exec $ns_wa wg set $wg_a listen-port 51820 private-key KEY_A peer PUB_B endpoint 10.55.0.2:51820 allowed-ips 10.56.0.2/32" \
    "ip netns exec $ns_wb wg set $wg_b listen-port 51820 private-key KEY_B peer PUB_A endpoint 10.55.0.1:51820 allowed-ips 10.56.0.1/32" \
    "ip netns exec $ns_srv iperf3 -s -B 10.77.0.1" \
    "ip netns exec $ns_wb iperf3 -s -B 10.56.0.2" \
    "${commands[@]}"
