#!/usr/bin/env bash
# larkgw against the C floor, side by side in one run. The floor (bench/floor.c) is the
# least a receiver can do per signed, encrypted webhook: evhttp, signature check,
# AES-256-CBC decrypt, cJSON parse, no Lua. The goal: larkgw, running a Lua handler
# (bench/handler.lua) behind its own dedup, spends less CPU per event than that.
# The same requests (bench/gen.c, generated once: each event its own ids, 64 chats) are
# replayed by the same wrk (bench/wrk.lua, CONNECTIONS, DURATION s) at each server in
# turn, the server pinned to core 0 and wrk to core 1. CPU per event is the server's
# user + system time (/proc/PID/stat) over the wrk run divided by its 2xx answers.
#   bench/cpu.sh build/larkgw
# Knobs (env): DURATION (s, default 5), CONNECTIONS (32), EVENTS (300000),
# LARKGW_CORE (0), WRK_CORE (1), ROUNDS (1: with more, the floor and larkgw take turns
# that many times and each column is the median, so a neighbour's load on a shared box
# weighs on both alike).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

EVENTS=${EVENTS:-300000}
ROUNDS=${ROUNDS:-1}

bench_need wrk taskset cc pkg-config python3
bench_workdir bench-cpu
# user + system clock ticks of a process so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

PORT=$(free_port)
cc -O2 -D_GNU_SOURCE -I"$SRC/src" -o "$WORK/gen" "$SRC/bench/gen.c" "$SRC/src/crypto/crypto.c" \
   -lcrypto -lpthread
# shellcheck disable=SC2046  # pkg-config prints several words on purpose
cc -O2 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE -I"$SRC/src" \
   $(pkg-config --cflags libevent_extra libcjson) -o "$WORK/floor" "$SRC/bench/floor.c" \
   "$SRC/src/crypto/crypto.c" $(pkg-config --libs libevent_core libevent_extra libcjson libcrypto) \
   -lpthread
echo "bench: generating $EVENTS signed, encrypted events..." >&2
"$WORK/gen" "$EVENTS" "$KEY" "$TOKEN" "127.0.0.1:$PORT" "$WEBHOOK_PATH" "$WORK/requests.bin"

mkdir -p "$WORK/scripts"
cp "$SRC/bench/handler.lua" "$WORK/scripts/"
bench_webhook_conf

# measure NAME COMMAND...: starts the server (pinned), replays the requests with wrk,
# stops it; prints one result line
measure() {
    local name=$1
    shift
    taskset -c "$LARKGW_CORE" "$@" > "$WORK/$name.log" 2>&1 &
    PID=$!
    bench_wait_port "$PORT" "$PID" "$WORK/$name.log"
    echo "bench: $name: wrk -c$CONNECTIONS -d${DURATION}s on core $WRK_CORE, server on core" \
         "$LARKGW_CORE" >&2
    local c0 c1 line
    c0=$(cpu_ticks "$PID")
    taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s "$SRC/bench/wrk.lua" "http://127.0.0.1:$PORT$WEBHOOK_PATH" -- "$WORK/requests.bin" \
        > "$WORK/wrk.out"
    c1=$(cpu_ticks "$PID")
    stop_pid "$PID"
    PID=
    line=$(grep '^BENCH ' "$WORK/wrk.out") || { cat "$WORK/wrk.out" >&2; exit 1; }
    echo "$name ${line#BENCH } cpu_ticks=$((c1 - c0)) hz=$(getconf CLK_TCK)"
    if grep -q . "$WORK/$name.log"; then head -3 "$WORK/$name.log" >&2; fi
}

for _ in $(seq "$ROUNDS"); do
    measure floor "$WORK/floor" "$PORT" "$KEY"
    measure larkgw "$BIN" run --config "$WORK/bench.conf.lua"
done > "$WORK/results"

echo "larkgw vs the C floor: signed + encrypted im.message.receive_v1 webhooks, the same"
echo "$EVENTS requests, wrk with $CONNECTIONS connections for ${DURATION}s each; the server on"
echo "core $LARKGW_CORE, wrk on core $WRK_CORE$([ "$ROUNDS" -gt 1 ] && echo "; medians of $ROUNDS rounds")"
awk '
function median(name, col,    n, i, j, t, v) {
    n = runs[name]
    for (i = 1; i <= n; i++) v[i] = val[name, col, i]
    for (i = 2; i <= n; i++)            # insertion sort: a handful of rounds
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function row(name) {
    return sprintf("%9.0f  %9.1f us  %7.2f ms  %7.2f ms  %7d", median(name, "rate"),
                   median(name, "cpu"), median(name, "p50"), median(name, "p99"),
                   median(name, "bad"))
}
{
    delete kv
    for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    ok = kv["requests"] - kv["non2xx"]
    k = ++runs[$1]
    val[$1, "rate", k] = ok / (kv["duration_us"] / 1e6)
    val[$1, "cpu", k] = ok ? kv["cpu_ticks"] / kv["hz"] * 1e6 / ok : 0
    val[$1, "p50", k] = kv["p50_us"] / 1000
    val[$1, "p99", k] = kv["p99_us"] / 1000
    val[$1, "bad", k] = kv["non2xx"]
    if (kv["wrapped"] > 0) warn = warn sprintf("%s: %d replays of used events (raise EVENTS)\n", $1, kv["wrapped"])
    if (kv["socket_errors"] > 0) warn = warn sprintf("%s: %d socket errors\n", $1, kv["socket_errors"])
} END {
    printf "%-41s  %9s  %12s  %10s  %10s  %7s\n", "server", "events/s", "CPU/event", "p50", "p99", "non-2xx"
    printf "%-41s  %s\n", "C floor (evhttp + verify + AES + cJSON)", row("floor")
    printf "%-41s  %s\n", "larkgw (Lua handler)", row("larkgw")
    if (median("floor", "cpu") > 0)
        printf "larkgw spends %.2fx the floor'"'"'s CPU per event\n", median("larkgw", "cpu") / median("floor", "cpu")
    printf "%s", warn
}' "$WORK/results"
