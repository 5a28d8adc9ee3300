#!/usr/bin/env bash
# Hot reload cost and memory per Lua state. Starts larkgw on a scripts directory of 10
# copies of scripts/examples/echo.lua, reloads it RELOADS times (SIGHUP, one at a time)
# and prints the "reloaded scripts in N ms" figures; then loads echo.lua next to an
# empty script and prints what each state uses right after loading (lua_gc COUNT).
#   bench/reload.sh build/larkgw
# Knobs (env): RELOADS (default 30), SCRIPTS (default 10).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

RELOADS=${RELOADS:-30}
SCRIPTS=${SCRIPTS:-10}

bench_need python3
bench_workdir bench-reload
stop() {
    stop_pid "$PID"
    PID=
}

# Waits (bounded) until the log matches $2 at least $3 times.
wait_log() {
    for _ in $(seq 300); do
        [ "$(grep -c -E "$2" "$1" || true)" -ge "$3" ] && return 0
        kill -0 "$PID" 2>/dev/null || { echo "bench: larkgw exited:" >&2; cat "$1" >&2; exit 1; }
        sleep 0.05
    done
    echo "bench: timed out waiting for /$2/ in $1" >&2
    exit 1
}

# Starts larkgw on scripts dir $1, logging (debug) to $2.
start() {
    cat > "$WORK/bench.conf.lua" <<EOF
mode = "webhook"
verification_token = "bench-token-81f0"
webhook = { listen = "127.0.0.1:0" }
admin = { listen = "" }
scripts = "$1"
lua_path = "$SRC/lua"
state_dir = "$WORK"
log = { level = "debug" }
EOF
    "$BIN" run --config "$WORK/bench.conf.lua" > "$2" 2>&1 &
    PID=$!
    wait_log "$2" "gateway: ready" 1
}

mkdir -p "$WORK/ten" "$WORK/two"
for i in $(seq -w 1 "$SCRIPTS"); do cp "$SRC/scripts/examples/echo.lua" "$WORK/ten/echo$i.lua"; done
start "$WORK/ten" "$WORK/ten.log"
for n in $(seq "$RELOADS"); do
    kill -HUP "$PID"
    wait_log "$WORK/ten.log" "reloaded scripts in" "$n"
done
stop

cp "$SRC/scripts/examples/echo.lua" "$WORK/two/echo.lua"
printf -- '-- nothing\n' > "$WORK/two/empty.lua"
start "$WORK/two" "$WORK/two.log"
stop

sed -n 's/.*reloaded scripts in \([0-9.]*\) ms.*/\1/p' "$WORK/ten.log" | sort -n | awk -v n="$SCRIPTS" '
    { v[NR] = $1; sum += $1 }
    END {
        printf "| reload of %d scripts (%d reloads) | min | median | mean | max |\n", n, NR
        printf "|---|---|---|---|---|\n"
        printf "| ms | %.2f | %.2f | %.2f | %.2f |\n", v[1], v[int((NR + 1) / 2)], sum / NR, v[NR]
    }'
echo
echo "| state right after loading | KiB (lua_gc COUNT) |"
echo "|---|---|"
sed -n 's/.*lua: \([^ ]*\) loaded: its state uses \([0-9.]*\) KiB.*/| \1 | \2 |/p' "$WORK/two.log"
