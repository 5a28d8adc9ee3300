#!/usr/bin/env bash
# Webhook throughput: signed, encrypted im.message.receive_v1 events, each with its own
# event_id and message_id, replayed by wrk (32 connections) against larkgw. larkgw is
# pinned to core 0, wrk (and the emulator) to core 1.
#   bench/run.sh build/larkgw
# SCENARIO=echo (default): scripts/examples/echo.lua, which replies to every message
#   through the OpenAPI of `larkgw emulator` (token + one reply call per event);
# SCENARIO=log: bench/handler.lua, the same parsing without the reply.
# Knobs (env): DURATION (s, default 5), CONNECTIONS (32), EVENTS (fresh events to
# generate, default 300000), LARKGW_CORE (0), WRK_CORE (1). CPU per event: larkgw's user +
# system time (/proc/PID/stat) over the wrk run divided by its 2xx answers.
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

EVENTS=${EVENTS:-300000}
SCENARIO=${SCENARIO:-echo}

bench_need wrk taskset cc python3
bench_workdir bench
PORT=$(free_port)

cc -O2 -D_GNU_SOURCE -I"$SRC/src" -o "$WORK/gen" "$SRC/bench/gen.c" "$SRC/src/crypto/crypto.c" \
   -lcrypto -lpthread
echo "bench: generating $EVENTS signed, encrypted events..." >&2
"$WORK/gen" "$EVENTS" "$KEY" "$TOKEN" "127.0.0.1:$PORT" "$WEBHOOK_PATH" "$WORK/requests.bin"

mkdir -p "$WORK/scripts"
OPENAPI=""
case "$SCENARIO" in
echo)
    cp "$SRC/scripts/examples/echo.lua" "$WORK/scripts/"
    EMU_PORT=$(free_port)
    taskset -c "${EMU_CORE:-$WRK_CORE}" "$BIN" emulator --listen "127.0.0.1:$EMU_PORT" --log-level warn \
        > "$WORK/emulator.log" 2>&1 &
    EMU_PID=$!
    bench_wait_port "$EMU_PORT" "$EMU_PID" "$WORK/emulator.log"
    OPENAPI="domain = \"http://127.0.0.1:$EMU_PORT\" app_id = \"cli_e3a1a70000000001\" app_secret = \"emulator-secret\""
    ;;
log) cp "$SRC/bench/handler.lua" "$WORK/scripts/" ;;
*) echo "bench: SCENARIO is echo or log" >&2; exit 1 ;;
esac
bench_webhook_conf "$OPENAPI"

taskset -c "$LARKGW_CORE" "$BIN" run --config "$WORK/bench.conf.lua" > "$WORK/larkgw.log" 2>&1 &
PID=$!
bench_wait_port "$PORT" "$PID" "$WORK/larkgw.log"

echo "bench: wrk -c$CONNECTIONS -d${DURATION}s on core $WRK_CORE, larkgw on core $LARKGW_CORE" >&2
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
C0=$(cpu_ticks "$PID")
taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    -s "$SRC/bench/wrk.lua" "http://127.0.0.1:$PORT$WEBHOOK_PATH" -- "$WORK/requests.bin" \
    > "$WORK/wrk.out"
C1=$(cpu_ticks "$PID")
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$PID/status")
kill -TERM "$PID"
wait "$PID" || { echo "bench: larkgw exited with $?" >&2; tail -20 "$WORK/larkgw.log" >&2; }
PID=

LINE=$(grep '^BENCH ' "$WORK/wrk.out") || { cat "$WORK/wrk.out" >&2; exit 1; }
eval "${LINE#BENCH }"
# shellcheck disable=SC2154  # the variables come from wrk.lua's BENCH line
awk -v req="$requests" -v dur="$duration_us" -v bad="$non2xx" -v sock="$socket_errors" \
    -v p50="$p50_us" -v p99="$p99_us" -v hwm="$HWM_KB" -v wrapped="$wrapped" \
    -v cpu_us="$(( (C1 - C0) * 1000000 / $(getconf CLK_TCK) ))" \
    -v conns="$CONNECTIONS" -v scenario="$SCENARIO" 'BEGIN {
    ok = req - bad
    what = scenario == "echo" ? "echo.lua, one reply each via the emulator" : "bench/handler.lua, no API call"
    printf "%-34s %s\n", "larkgw webhook bench", "(signed + encrypted, 1 core)"
    printf "%-34s %s\n", "scenario", what
    printf "%-34s %d\n", "connections", conns
    printf "%-34s %.0f\n", "events/s (2xx answers)", ok / (dur / 1e6)
    printf "%-34s %.2f ms\n", "latency p50", p50 / 1000
    printf "%-34s %.2f ms\n", "latency p99", p99 / 1000
    printf "%-34s %.1f us\n", "larkgw CPU per event", ok ? cpu_us / ok : 0
    printf "%-34s %.1f MB\n", "peak RSS (VmHWM)", hwm / 1024
    printf "%-34s %d of %d\n", "non-2xx answers", bad, req
    printf "%-34s %d\n", "socket errors", sock
    if (wrapped > 0)
        printf "%-34s %d (raise EVENTS: repeats hit dedup)\n", "replays of used events", wrapped
}'
if grep -q . "$WORK/larkgw.log"; then
    echo "bench: larkgw log (warnings and errors):" >&2
    head -5 "$WORK/larkgw.log" >&2
fi
