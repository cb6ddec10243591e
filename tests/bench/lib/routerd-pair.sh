# Shared parts of the tests/bench scripts that run two routerds in network namespaces. Sourced,
# not run. The sourcing script sets `bench` (its name, for messages) before sourcing.
#
# - bench_start: root check, scratch directory $work, a unique $tag, the exit trap that stops
#   every process in $pids (TERM, then KILL after 10 s each), runs the commands queued with
#   bench_on_exit, deletes the namespaces made with bench_netns and $work.
# - bench_netns NS...: make namespaces (loopback up), deleted on exit.
# - bench_veth NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth pair between two namespaces.
# - routerd_pair LINK NS_SRV NS_CLI LAN_IF: routerd A answers in NS_SRV (pool 10.77.0.10-20,
#   local address 10.77.0.1 on LAN_IF, user "bench"), routerd B dials from NS_CLI over LINK
#   (serial: a socat pty pair; pptp: a veth 10.66.0.2 -> 10.66.0.1:1723), MS-CHAPv2 and
#   MPPE-128 required; waits for the session and sets $client (its address), $mtu (the
#   session's MTU as routed in NS_CLI) and $encryption (routerctl's JSON).
#
# Background processes are started with `ip netns exec` itself (it execs the program, so $!
# is the program's pid and the trap can stop it).

bench_die() {
    echo "$bench: $*" >&2
    exit 1
}

bench_require() { # TOOL... : each must be on PATH
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "$bench: $tool missing (see tests/apt-packages.txt)" >&2
            exit 2
        }
    done
}

bench_start() {
    if [ "$(id -u)" != 0 ]; then
        echo "$bench: needs root (network namespaces, TUN)" >&2
        exit 2
    fi
    work=$(mktemp -d "/tmp/dialgate-bench.XXXXXX")
    tag=$$
    pids=()
    bench_namespaces=()
    bench_exit_cmds=()
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_on_exit() { # COMMAND (a string, run with eval before the namespaces go)
    bench_exit_cmds+=("$1")
}

bench_cleanup() {
    set +e
    local i p c ns
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
    for c in "${bench_exit_cmds[@]}"; do
        eval "$c"
    done
    for ns in "${bench_namespaces[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$work"
}

in_ns() { # NS COMMAND...
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

bench_netns() { # NS...
    local ns
    for ns in "$@"; do
        ip netns add "$ns"
        bench_namespaces+=("$ns")
        ip -n "$ns" link set lo up
    done
}

bench_veth() { # NS_A IF_A ADDR_A NS_B IF_B ADDR_B
    ip link add "$2" type veth peer name "$5"
    ip link set "$2" netns "$1"
    ip link set "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}

bench_wait_socket() { # SOCKET LOG
    for _ in $(seq 1 100); do
        [ -S "$1" ] && return 0
        sleep 0.1
    done
    echo "$bench: $1 never appeared; log:" >&2
    cat "$2" >&2
    exit 1
}

# routerd_pair LINK NS_SRV NS_CLI LAN_IF (see the top of the file). Needs $bin: the directory
# of routerd, routerctl and the plugins.
routerd_pair() {
    local link=$1 ns_srv=$2 ns_cli=$3 lan_if=$4 a_link b_link session=""
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
        bench_veth "$ns_cli" "dgbc$tag" 10.66.0.2/24 "$ns_srv" "dgbw$tag" 10.66.0.1/24
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
interface = "$lan_if"
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

    ip netns exec "$ns_srv" "$bin/routerd" --config "$work/a/routerd.toml" 2>"$work/a/log" &
    pids+=($!)
    bench_wait_socket "$work/a/routerd.sock" "$work/a/log"
    echo "a long benchmark passphrase" |
        "$bin/routerctl" --socket "$work/a/routerd.sock" users set-password bench >/dev/null
    ip netns exec "$ns_cli" "$bin/routerd" --config "$work/b/routerd.toml" 2>"$work/b/log" &
    pids+=($!)
    bench_wait_socket "$work/b/routerd.sock" "$work/b/log"

    for _ in $(seq 1 400); do
        session=$("$bin/routerctl" --socket "$work/b/routerd.sock" --json sessions 2>/dev/null |
            jq -c 'map(select(.state == "up" and .ipv4 != null)) | first // empty' || true)
        [ -n "$session" ] && break
        sleep 0.1
    done
    if [ -z "$session" ]; then
        echo "$bench: no session came up; logs:" >&2
        cat "$work/a/log" "$work/b/log" >&2
        exit 1
    fi
    client=$(jq -r .ipv4 <<<"$session")
    encryption=$(jq -c .encryption <<<"$session")
    # The session's MTU: on its route when below the TUN's.
    mtu=$(ip -n "$ns_cli" route get 10.77.0.2 | grep -o 'mtu [0-9]*' | cut -d' ' -f2 || true)
    mtu=${mtu:-1500}
    jq -e '.encryption.kind == "mppe" and .encryption.bits == 128' <<<"$session" >/dev/null ||
        bench_die "expected MPPE-128, got $encryption"
}
