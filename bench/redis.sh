#!/usr/bin/env bash
# One gateway, with shared state on Redis vs in memory, side by side in one run: the
# same signed, encrypted im.message.receive_v1 events (distinct ids, 64 chats,
# order = "chat"), bench/handler.lua (no API call), wrk with 32 connections.
# larkgw is pinned to core 0; wrk and redis-server share core 1. CPU per event is
# larkgw's own user + system time over the run divided by the 2xx answers; redis-server's
# is shown apart (with Redis each event costs it a claim, a mark, a chat lease and its
# release).
#   bench/redis.sh build/larkgw
# Knobs (env): DURATION (s, default 5), CONNECTIONS (32), EVENTS (300000),
# LARKGW_CORE (0), WRK_CORE (1), ONLY (memory or redis: that run alone, e.g. to profile).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

EVENTS=${EVENTS:-300000}

bench_need wrk taskset cc python3 redis-server
bench_workdir bench-redis
# user + system clock ticks of a process so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

PORT=$(free_port)
REDIS_PORT=$(free_port)
cc -O2 -D_GNU_SOURCE -I"$SRC/src" -o "$WORK/gen" "$SRC/bench/gen.c" "$SRC/src/crypto/crypto.c" \
   -lcrypto -lpthread
mkdir -p "$WORK/scripts"
cp "$SRC/bench/handler.lua" "$WORK/scripts/"

taskset -c "$WRK_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
    --appendonly no --dir "$WORK" > "$WORK/redis.log" 2>&1 &
REDIS_PID=$!
bench_wait_port "$REDIS_PORT"

# run NAME EXTRA_CONFIG: one larkgw, one wrk run; prints a result line
run() {
    local name=$1 extra=$2
    echo "bench: $name: generating $EVENTS events..." >&2
    "$WORK/gen" "$EVENTS" "$KEY" "$TOKEN" "127.0.0.1:$PORT" "$WEBHOOK_PATH" "$WORK/requests.bin"
    bench_webhook_conf "$extra"
    taskset -c "$LARKGW_CORE" "$BIN" run --config "$WORK/bench.conf.lua" > "$WORK/larkgw.log" 2>&1 &
    PID=$!
    bench_wait_port "$PORT" "$PID" "$WORK/larkgw.log"
    sleep 0.5    # the Redis connection is up
    local c0 r0 c1 r1
    c0=$(cpu_ticks "$PID")
    r0=$(cpu_ticks "$REDIS_PID")
    taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s "$SRC/bench/wrk.lua" "http://127.0.0.1:$PORT$WEBHOOK_PATH" -- "$WORK/requests.bin" \
        > "$WORK/wrk.out"
    c1=$(cpu_ticks "$PID")
    r1=$(cpu_ticks "$REDIS_PID")
    stop_pid "$PID"
    PID=
    local line
    line=$(grep '^BENCH ' "$WORK/wrk.out") || { cat "$WORK/wrk.out" >&2; exit 1; }
    echo "$name ${line#BENCH } cpu_ticks=$((c1 - c0)) redis_ticks=$((r1 - r0)) hz=$(getconf CLK_TCK)"
    if grep -q . "$WORK/larkgw.log"; then head -3 "$WORK/larkgw.log" >&2; fi
}

{
    [ "${ONLY:-}" = redis ] || run memory ""
    [ "${ONLY:-}" = memory ] || run redis "redis = { url = \"redis://127.0.0.1:$REDIS_PORT/0\", prefix = \"bench:\" }"
} > "$WORK/results"

echo "larkgw: one gateway, shared state in memory vs on Redis (signed + encrypted, 1 core for"
echo "larkgw, wrk and redis-server on the other; $CONNECTIONS connections, ${DURATION}s each)"
awk '{
    delete kv
    for (i = 2; i <= NF; i++) { split($i, p, "="); kv[p[1]] = p[2] }
    ok = kv["requests"] - kv["non2xx"]
    printf "%-7s %9.0f events/s  %6.1f us CPU/event  redis %5.1f us/event  p50 %5.2f ms  p99 %5.2f ms  non-2xx %d\n",
        $1, ok / (kv["duration_us"] / 1e6), kv["cpu_ticks"] / kv["hz"] * 1e6 / ok,
        kv["redis_ticks"] / kv["hz"] * 1e6 / ok, kv["p50_us"] / 1000, kv["p99_us"] / 1000,
        kv["non2xx"]
}' "$WORK/results"
