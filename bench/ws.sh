#!/usr/bin/env bash
# The long connection under load: larkgw in mode "ws" against `larkgw emulator`, which
# pushes fresh im.message.receive_v1 events (each its own event_id and message_id, 64
# chats) over the WebSocket as pbbp2 frames, keeping WINDOW of them waiting for an ack
# and delivering the next as each ack comes back (POST /_emu/events {"count"}).
# bench/handler.lua is the script (a Lua handler, no API call). larkgw is pinned to core
# 0, the emulator to core 1. After WARMUP s, the figures cover DURATION s: events acked
# with code 200 (the emulator's count), larkgw's CPU per event (utime + stime from
# /proc/PID/stat over the window / those events), acks other than 200, re-deliveries.
#   bench/ws.sh build/larkgw
# Knobs (env): DURATION (s, default 5), WARMUP (s, 1), WINDOW (events waiting for an ack,
# 256), CHATS (64), LARKGW_CORE (0), EMU_CORE (1).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

WARMUP=${WARMUP:-1}
WINDOW=${WINDOW:-256}
CHATS=${CHATS:-64}
EMU_CORE=${EMU_CORE:-1}
APP_ID=cli_e3a1a70000000001
APP_SECRET=emulator-secret

bench_need taskset curl python3
bench_workdir bench-ws
# user + system clock ticks of a process so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# emu METHOD PATH [JSON]: one control call; prints the answer, fails on a non-2xx status
emu() {
    curl -sS --fail-with-body -X "$1" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "http://127.0.0.1:$EMU_PORT$2"
}
# stat_of FIELD: one number out of the JSON of GET /_emu/stats on stdin
stat_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

EMU_PORT=$(free_port)
taskset -c "$EMU_CORE" "$BIN" emulator --listen "127.0.0.1:$EMU_PORT" --log-level warn \
    --verification-token "$TOKEN" > "$WORK/emulator.log" 2>&1 &
EMU_PID=$!
bench_wait_port "$EMU_PORT" "$EMU_PID" "$WORK/emulator.log"

mkdir -p "$WORK/scripts"
cp "$SRC/bench/handler.lua" "$WORK/scripts/"
cat > "$WORK/bench.conf.lua" <<EOF
mode = "ws"
domain = "http://127.0.0.1:$EMU_PORT"
app_id = "$APP_ID"
app_secret = "$APP_SECRET"
verification_token = "$TOKEN"
scripts = "$WORK/scripts"
lua_path = "$SRC/lua"
state_dir = "$WORK"
admin = { listen = "127.0.0.1:0" }
log = { level = "warn" }
EOF
taskset -c "$LARKGW_CORE" "$BIN" run --config "$WORK/bench.conf.lua" > "$WORK/larkgw.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
    [ "$(emu GET /_emu/stats | stat_of connections)" = 1 ] && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/larkgw.log" >&2; exit 1; }
    sleep 0.1
done
[ "$(emu GET /_emu/stats | stat_of connections)" = 1 ] ||
    { echo "bench: larkgw did not connect" >&2; cat "$WORK/larkgw.log" >&2; exit 1; }

echo "bench: flood of events, window $WINDOW, $CHATS chats; ${WARMUP}s warm-up, ${DURATION}s" \
     "measured; larkgw on core $LARKGW_CORE, emulator on core $EMU_CORE" >&2
emu POST /_emu/events "{\"text\": \"@_user_1 hello\", \"count\": 1000000000,
    \"window\": $WINDOW, \"chats\": $CHATS}" > /dev/null
sleep "$WARMUP"
S0=$(emu GET /_emu/stats)
C0=$(cpu_ticks "$PID")
E0=$(cpu_ticks "$EMU_PID")
T0=$(date +%s.%N)
sleep "$DURATION"
S1=$(emu GET /_emu/stats)
C1=$(cpu_ticks "$PID")
E1=$(cpu_ticks "$EMU_PID")
T1=$(date +%s.%N)
emu DELETE /_emu/events > /dev/null
HWM_KB=$(peak_kb "$PID")
EMU_HWM_KB=$(peak_kb "$EMU_PID")
kill -0 "$PID" 2>/dev/null || { echo "bench: larkgw died" >&2; tail -20 "$WORK/larkgw.log" >&2; exit 1; }

delta() { echo $(( $(stat_of "$1" <<< "$S1") - $(stat_of "$1" <<< "$S0") )); }
awk -v ok="$(delta settled)" -v bad="$(delta acks_failed)" -v redo="$(delta redeliveries)" \
    -v gone="$(delta given_up)" -v t0="$T0" -v t1="$T1" -v hz="$(getconf CLK_TCK)" \
    -v cpu=$((C1 - C0)) -v ecpu=$((E1 - E0)) -v hwm="$HWM_KB" -v ehwm="$EMU_HWM_KB" \
    -v window="$WINDOW" 'BEGIN {
    secs = t1 - t0
    printf "%-34s %s\n", "larkgw long-connection bench", "(ws + pbbp2 from the emulator, 1 core)"
    printf "%-34s %s\n", "scenario", "bench/handler.lua, no API call"
    printf "%-34s %d\n", "events waiting for an ack (window)", window
    printf "%-34s %.0f\n", "events/s (acked with code 200)", ok / secs
    printf "%-34s %.1f us\n", "larkgw CPU per event", ok ? cpu / hz * 1e6 / ok : 0
    printf "%-34s %.0f%%\n", "larkgw CPU (share of its core)", cpu / hz / secs * 100
    printf "%-34s %.0f%% (%.1f us per event)\n", "emulator CPU (share of its core)",
        ecpu / hz / secs * 100, ok ? ecpu / hz * 1e6 / ok : 0
    printf "%-34s %d\n", "acks other than 200", bad
    printf "%-34s %d (%d given up)\n", "re-deliveries", redo, gone
    printf "%-34s %.1f MB\n", "peak RSS (VmHWM)", hwm / 1024
    printf "%-34s %.1f MB\n", "emulator peak RSS", ehwm / 1024
}'
if grep -q . "$WORK/larkgw.log"; then
    echo "bench: larkgw log (warnings and errors):" >&2
    head -5 "$WORK/larkgw.log" >&2
fi
