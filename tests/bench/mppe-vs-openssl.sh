#!/usr/bin/env bash
# MPPE-128 throughput (core/crypto/benches/mppe.rs, 1400-octet packets) against OpenSSL's
# RC4 on the same machine, in the same run:
#
#   openssl speed -provider legacy -provider default -evp rc4 -bytes 1400 -seconds 3
#
# Targets: stateful >= 90% of OpenSSL's RC4, stateless >= 50% (stateless re-keys per packet:
# one SHA-1 over two blocks and two RC4 key schedules on top of the stream).
#
# The two measurements alternate ROUNDS times (default 3) so that load from other processes
# hits both alike; each round's ratios are printed, then the median. Exit status is 0 unless
# --strict is given and a median misses its target.
#
# usage: tests/bench/mppe-vs-openssl.sh [--strict] [ROUNDS]
set -euo pipefail

strict=0
if [[ "${1:-}" == "--strict" ]]; then strict=1; shift; fi
rounds="${1:-3}"
cd "$(dirname "$0")/../.."

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }
cargo bench -p dialgate-crypto --bench mppe --no-run >/dev/null 2>&1

benches=(mppe128_encrypt/stateful mppe128_decrypt/stateful mppe128_encrypt/stateless mppe128_decrypt/stateless)
declare -A ratios

openssl_bps() {
    # "RC4   673722.61k" -> bytes per second (OpenSSL's k is 1000).
    openssl speed -provider legacy -provider default -evp rc4 -bytes 1400 -seconds 3 2>/dev/null |
        awk '$1 == "RC4" { v = $2; sub(/k$/, "", v); printf "%.0f\n", v * 1000 }'
}

ours_bps() {
    # Criterion prints "<name>" then "time: [...]" and "thrpt: [low mid high]"; take mid.
    cargo bench -p dialgate-crypto --bench mppe -- \
        --warm-up-time 1 --measurement-time 3 --noplot --discard-baseline 2>/dev/null |
        awk '
            /^mppe128_/ { name = $1; next }
            name != "" && $1 == "thrpt:" {
                v = $4; unit = $5
                f = 1
                if (unit ~ /^KiB/) f = 1024
                if (unit ~ /^MiB/) f = 1024 * 1024
                if (unit ~ /^GiB/) f = 1024 * 1024 * 1024
                if (unit == "MB/s") f = 1000 * 1000
                printf "%s %.0f\n", name, v * f
                name = ""
            }'
}

for round in $(seq 1 "$rounds"); do
    ossl=$(openssl_bps)
    ours=$(ours_bps)
    printf 'round %d: openssl rc4 %.1f MB/s\n' "$round" "$(echo "$ossl / 1000000" | bc -l)"
    for b in "${benches[@]}"; do
        v=$(awk -v b="$b" '$1 == b { print $2 }' <<<"$ours")
        r=$(echo "$v / $ossl" | bc -l)
        ratios[$b]="${ratios[$b]:-} $r"
        printf '  %-28s %8.1f MB/s  ratio %.3f\n' "$b" "$(echo "$v / 1000000" | bc -l)" "$r"
    done
done

echo "median ratio (ours / openssl) over $rounds round(s):"
fail=0
for b in "${benches[@]}"; do
    med=$(tr ' ' '\n' <<<"${ratios[$b]}" | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    case "$b" in *stateless) target=0.50 ;; *) target=0.90 ;; esac
    verdict=$(echo "$med >= $target" | bc -l)
    [[ "$verdict" == 1 ]] && mark=ok || { mark="BELOW TARGET"; fail=1; }
    printf '  %-28s %.3f  (target %.2f) %s\n' "$b" "$med" "$target" "$mark"
done
if (( strict && fail )); then exit 1; fi
