#!/usr/bin/env bash
# Data-plane throughput of an established MS-CHAPv2 + MPPE-128 session (issue 3), against a
# bare veth pair measured in the same run.
#
# The session path is the end-to-end test's setup (core/routerd/tests/e2e_pty_netns.rs), in
# network namespaces this script creates and deletes:
#
#   netns cli: iperf3 client -> TUN -> routerd B (dials) -- pty pair (socat) --
#   netns srv: routerd A (answers, pool from the LAN) -> TUN -> forwarding -> veth --
#   netns lan: iperf3 server (10.77.0.2)
#
# With --link pptp the pty pair and the serial plugin are replaced by a veth pair between
# cli and srv carrying PPTP (TCP 1723 and GRE, the pptp plugin), as a VPN runs. Known
# problem there: a UDP flood makes the plugin drop frames after encryption (GRE window
# full) in bursts of thousands, which desynchronises stateless MPPE (a coherency count gap
# of over 2048, RFC 3078 §8.1) and the session stops carrying data: the udp runs then fail.
# The serial link is protected by the host (a full tty write queue drops packets before
# encryption); links need a congestion signal from their plugin for the same.
#
# The reference path is a veth pair between two more namespaces, nothing else. Each test
# runs iperf3 for SECONDS over both paths: TCP, then UDP at full speed with 1400-octet and
# 64-octet datagrams. For each it prints the goodput iperf3's receiver saw (Mbit/s) and the
# packets per second that reached the receiving host (its interface's rx_packets), then the
# session/veth ratios. The pty pair and the serial plugin's HDLC framing are part of the
# session path (as in the e2e test). TCP's pps are its goodput in full-size segments (MTU less
# 52 octets of IP and TCP headers with timestamps): the veth sends 64 KiB offloaded
# super-packets, so its interface counter would not compare.
#
# Needs root, iproute2, iperf3, socat and jq (tests/apt-packages.txt). A benchmark, not part
# of tests/run-all.sh.
#
# usage: sudo tests/bench/dataplane-vs-veth.sh [--link serial|pptp] [SECONDS]
#        (default: serial, 10 s per run)
set -euo pipefail

link=serial
if [ "${1:-}" = "--link" ]; then
    link="${2:-}"
    shift 2
fi
case $link in
    serial | pptp) ;;
    *)
        echo "dataplane-vs-veth: --link serial or --link pptp" >&2
        exit 2
        ;;
esac
secs="${1:-10}"
cd "$(dirname "$0")/../.."
repo=$(pwd)
bench=dataplane-vs-veth
# shellcheck source=tests/bench/lib/routerd-pair.sh
. tests/bench/lib/routerd-pair.sh

bench_start
bench_require ip iperf3 jq $([ "$link" = serial ] && echo socat)

echo "==> building routerd, routerctl and the $link plugin (release)"
cargo build --release --locked --quiet -p dialgate-routerd -p "dialgate-plugin-$link"
bin="$repo/target/release"

ns_srv="dgb-srv-$tag" ns_cli="dgb-cli-$tag" ns_lan="dgb-lan-$tag"
ns_va="dgb-va-$tag" ns_vb="dgb-vb-$tag"
bench_netns "$ns_srv" "$ns_cli" "$ns_lan" "$ns_va" "$ns_vb"
# The server's LAN, and the reference path.
bench_veth "$ns_srv" "dgbs$tag" 10.77.0.1/24 "$ns_lan" "dgbl$tag" 10.77.0.2/24
bench_veth "$ns_va" "dgba$tag" 10.88.0.1/24 "$ns_vb" "dgbb$tag" 10.88.0.2/24
routerd_pair "$link" "$ns_srv" "$ns_cli" "dgbs$tag"
echo "==> session up over $link: client $client, MTU $mtu, encryption $encryption"

ip netns exec "$ns_lan" iperf3 -s -B 10.77.0.2 >"$work/iperf-lan.log" 2>&1 &
pids+=($!)
ip netns exec "$ns_vb" iperf3 -s -B 10.88.0.2 >"$work/iperf-vb.log" 2>&1 &
pids+=($!)
sleep 0.5

rx_packets() { # NS IF
    in_ns "$1" cat "/sys/class/net/$2/statistics/rx_packets"
}

# run NAME CLIENT_NS SERVER_NS SERVER_IF SERVER_ADDR SOURCE_ADDR MTU IPERF_ARGS...
# prints "Mbit/s pps": UDP's pps from the receiving interface's counter, TCP's as goodput in
# full-size segments (MTU - 52).
run() {
    local name=$1 cns=$2 sns=$3 sif=$4 dst=$5 src=$6 path_mtu=$7
    shift 7
    local before after json
    before=$(rx_packets "$sns" "$sif")
    json=$(in_ns "$cns" iperf3 -c "$dst" -B "$src" -t "$secs" -J "$@")
    after=$(rx_packets "$sns" "$sif")
    jq -r --argjson rx "$((after - before))" --argjson mss "$((path_mtu - 52))" '
        .end.sum_received as $r
        | (if .start.test_start.protocol == "TCP"
           then $r.bytes / $mss / $r.seconds
           else $rx / $r.seconds end) as $pps
        | "\($r.bits_per_second / 1e6) \($pps)"' <<<"$json" ||
        { echo "dataplane-vs-veth: iperf3 $name failed: $json" >&2; exit 1; }
}

printf '\n%-22s %12s %12s %12s %12s %9s %9s\n' test "session Mb/s" "session pps" "veth Mb/s" "veth pps" "Mb/s %" "pps %"
for t in "tcp" "udp-1400" "udp-64"; do
    case $t in
        tcp) args=() ;;
        udp-1400) args=(-u -b 0 -l 1400) ;;
        udp-64) args=(-u -b 0 -l 64) ;;
    esac
    read -r s_mbps s_pps < <(run "$t over the session" "$ns_cli" "$ns_lan" "dgbl$tag" 10.77.0.2 "$client" "$mtu" "${args[@]}")
    read -r v_mbps v_pps < <(run "$t over veth" "$ns_va" "$ns_vb" "dgbb$tag" 10.88.0.2 10.88.0.1 1500 "${args[@]}")
    awk -v t="$t" -v sm="$s_mbps" -v sp="$s_pps" -v vm="$v_mbps" -v vp="$v_pps" 'BEGIN {
        printf "%-22s %12.1f %12.0f %12.1f %12.0f %8.2f%% %8.2f%%\n", t, sm, sp, vm, vp,
            (vm > 0 ? 100 * sm / vm : 0), (vp > 0 ? 100 * sp / vp : 0)
    }'
done

echo
echo "==> routerd data plane counters (client B, server A):"
for side in b a; do
    "$bin/routerctl" --socket "$work/$side/routerd.sock" metrics 2>/dev/null |
        grep -E '^dialgate_(drops_total|packets_total)' | sed "s/^/  $side: /" || true
done
