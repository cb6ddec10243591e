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

if [ "$(id -u)" != 0 ]; then
    echo "dataplane-vs-veth: needs root (network namespaces, TUN)" >&2
    exit 2
fi
for tool in ip iperf3 jq $([ "$link" = serial ] && echo socat); do
    command -v "$tool" >/dev/null || {
        echo "dataplane-vs-veth: $tool missing (see tests/apt-packages.txt)" >&2
        exit 2
    }
done

echo "==> building routerd, routerctl and the $link plugin (release)"
cargo build --release --locked --quiet -p dialgate-routerd -p "dialgate-plugin-$link"
bin="$repo/target/release"

work=$(mktemp -d /tmp/dialgate-bench.XXXXXX)
tag=$$
ns_srv="dgb-srv-$tag" ns_cli="dgb-cli-$tag" ns_lan="dgb-lan-$tag"
ns_va="dgb-va-$tag" ns_vb="dgb-vb-$tag"
pids=()

cleanup() {
    set +e
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[$i]}" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 1 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
    done
    for ns in "$ns_srv" "$ns_cli" "$ns_lan" "$ns_va" "$ns_vb"; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Background processes are started with `ip netns exec` itself (it execs the program, so $!
# is the program's pid and cleanup can stop it).
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

for ns in "$ns_srv" "$ns_cli" "$ns_lan" "$ns_va" "$ns_vb"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
veth() { # veth NS_A IF_A ADDR_A NS_B IF_B ADDR_B
    ip link add "$2" type veth peer name "$5"
    ip link set "$2" netns "$1"
    ip link set "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}
# The server's LAN, and the reference path.
veth "$ns_srv" "dgbs$tag" 10.77.0.1/24 "$ns_lan" "dgbl$tag" 10.77.0.2/24
veth "$ns_va" "dgba$tag" 10.88.0.1/24 "$ns_vb" "dgbb$tag" 10.88.0.2/24

if [ "$link" = serial ]; then
    # The pty pair (a null-modem cable).
    socat PTY,raw,echo=0,link="$work/pty-a" PTY,raw,echo=0,link="$work/pty-b" 2>"$work/socat.log" &
    pids+=($!)
    for _ in $(seq 1 50); do
        [ -e "$work/pty-a" ] && [ -e "$work/pty-b" ] && break
        sleep 0.1
    done
    a_link='[[link.config.ports]]
name = "modem"
device = "'"$work/pty-a"'"'
    b_link='[[link.config.ports]]
name = "uplink"
device = "'"$work/pty-b"'"
role = "dial"'
else
    # The Internet between the two boxes.
    veth "$ns_cli" "dgbc$tag" 10.66.0.2/24 "$ns_srv" "dgbw$tag" 10.66.0.1/24
    a_link='[link.config]
listen = ["10.66.0.1:1723"]'
    b_link='[link.config]
target = "10.66.0.1:1723"
call_type = "outgoing"'
fi

mkdir -p "$work/a" "$work/b"
cat >"$work/a/routerd.toml" <<EOF
[system]
hostname = "srv"
state_dir = "$work/a"
plugin_dir = "$bin"

[management]
socket = "$work/a/routerd.sock"

[lan]
interface = "dgbs$tag"
proxy_arp = true

[[pool]]
name = "lan"
ranges = ["10.77.0.10-10.77.0.20"]
local_address = "10.77.0.1"

[[plugin]]
name = "$link"
file = "libdialgate_plugin_$link.so"

[[link]]
name = "modem"
plugin = "$link"
role = "answer"
pool = "lan"
$a_link
EOF
cat >"$work/b/routerd.toml" <<EOF
[system]
hostname = "cli"
state_dir = "$work/b"
plugin_dir = "$bin"

[management]
socket = "$work/b/routerd.sock"

[[plugin]]
name = "$link"
file = "libdialgate_plugin_$link.so"

[[link]]
name = "uplink"
plugin = "$link"
role = "dial"
credentials = { user = "bench", password = "a long benchmark passphrase" }
routes = ["10.77.0.0/24"]
$b_link
EOF

wait_socket() {
    for _ in $(seq 1 100); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    echo "dataplane-vs-veth: $1 never appeared; log:" >&2
    cat "$2" >&2
    exit 1
}
ip netns exec "$ns_srv" "$bin/routerd" --config "$work/a/routerd.toml" 2>"$work/a/log" &
pids+=($!)
wait_socket "$work/a/routerd.sock" "$work/a/log"
echo "a long benchmark passphrase" |
    "$bin/routerctl" --socket "$work/a/routerd.sock" users set-password bench >/dev/null
ip netns exec "$ns_cli" "$bin/routerd" --config "$work/b/routerd.toml" 2>"$work/b/log" &
pids+=($!)
wait_socket "$work/b/routerd.sock" "$work/b/log"

session=""
for _ in $(seq 1 400); do
    session=$("$bin/routerctl" --socket "$work/b/routerd.sock" --json sessions 2>/dev/null |
        jq -c 'map(select(.state == "up" and .ipv4 != null)) | first // empty' || true)
    [ -n "$session" ] && break
    sleep 0.1
done
if [ -z "$session" ]; then
    echo "dataplane-vs-veth: no session came up; logs:" >&2
    cat "$work/a/log" "$work/b/log" >&2
    exit 1
fi
client=$(jq -r .ipv4 <<<"$session")
encryption=$(jq -c .encryption <<<"$session")
# The session's MTU: on its route when below the TUN's.
mtu=$(ip -n "$ns_cli" route get 10.77.0.2 | grep -o 'mtu [0-9]*' | cut -d' ' -f2 || true)
mtu=${mtu:-1500}
echo "==> session up over $link: client $client, MTU $mtu, encryption $encryption"
jq -e '.encryption.kind == "mppe" and .encryption.bits == 128' <<<"$session" >/dev/null || {
    echo "dataplane-vs-veth: expected MPPE-128" >&2
    exit 1
}

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
