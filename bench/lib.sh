# Shared by the bench scripts (sourced first): the knobs and credentials they share,
# tool checks, a work directory removed on exit with the daemons the script started,
# free loopback ports.
#   bench_bin "$1"              sets BIN, the larkgw to measure, as an absolute path
#   bench_wait_port PORT [PID LOG] waits (10 s at most) until PORT on loopback accepts;
#                               exits, showing LOG, when PID dies first or time runs out
#   bench_webhook_conf [LINE...] writes $WORK/bench.conf.lua: webhook mode on $PORT with the
#                               bench's key and token, $WORK/scripts; LINEs come last (a
#                               key set again there replaces the default)
#   bench_need TOOL...          exits when one is missing
#   bench_workdir NAME          sets WORK; PID, EMU_PID and REDIS_PID are stopped on exit,
#                               Ctrl-C included (each given STOP_WAIT tenths of a second,
#                               default 50)
#   free_port                   prints a free loopback port

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
LARKGW_CORE=${LARKGW_CORE:-0}
WRK_CORE=${WRK_CORE:-1}
KEY=bench-encrypt-key-5d2c
TOKEN=bench-token-81f0
WEBHOOK_PATH=/webhook/event

bench_bin() {
    [ -n "${1:-}" ] || { echo "usage: $0 path/to/larkgw" >&2; exit 2; }
    BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
}

bench_wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        if [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; then
            cat "$3" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "bench: nothing listens on port $1 after 10 s" >&2
    [ -z "${3:-}" ] || cat "$3" >&2
    exit 1
}

bench_webhook_conf() {
    {
        cat <<EOF
mode = "webhook"
encrypt_key = "$KEY"
verification_token = "$TOKEN"
scripts = "$WORK/scripts"
lua_path = "$SRC/lua"
state_dir = "$WORK"
webhook = { listen = "127.0.0.1:$PORT", path = "$WEBHOOK_PATH" }
admin = { listen = "127.0.0.1:0" }
log = { level = "warn" }
EOF
        printf '%s\n' "$@"
    } > "$WORK/bench.conf.lua"
}

bench_need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: $tool is missing (make deps)" >&2; exit 1; }
    done
    [ -x "$BIN" ] || { echo "bench: no larkgw at $BIN (make build)" >&2; exit 1; }
}

stop_pid() {
    if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1" 2>/dev/null || true
        for _ in $(seq "${STOP_WAIT:-50}"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$1" 2>/dev/null || true
    fi
}

bench_cleanup() {
    stop_pid "$PID"
    stop_pid "$EMU_PID"
    stop_pid "$REDIS_PID"
    rm -rf "$WORK"
}

bench_workdir() {
    WORK=$(mktemp -d "/tmp/larkgw-$1.XXXXXX")
    PID=
    EMU_PID=
    REDIS_PID=
    trap bench_cleanup EXIT
    # Ctrl-C: wrk catches SIGINT and exits 0, and the script would go on to its next
    # run; leave instead (the EXIT trap then stops the daemons)
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
