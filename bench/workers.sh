#!/usr/bin/env bash
# workers = 2 against workers = 1 on this box: the webhook bench of run.sh (signed,
# encrypted im.message.receive_v1 events with distinct ids, bench/handler.lua, no API
# call) run once per setting, then the ratio of events/s and the CPU time per event.
#   bench/workers.sh build/larkgw
# Pinning (a 2-core box has no core to spare for the load generator):
#   wrk: one thread on core $WRK_CORE (1) in both runs;
#   workers = 1: larkgw on core 0;
#   workers = 2: worker 0 on core 0, worker 1 on core 1, sharing it with wrk and the
#   supervisor (idle: it only answers admin);
#   redis-server on core $REDIS_CORE (default: wrk's) in both settings: workers need
#   it, and so that the two settings do the same work per event (the dedup claim goes
#   through Redis), the single process uses it too.
# So the ideal 2x is out of reach here: worker 1 gets what wrk (and Redis) leave of
# core 1. The CPU time per event (the larkgw processes, from /proc; Redis not counted) tells
# whether a worker costs more per event than the single process; if it does not, the
# ratio is bounded by the cores.
# SHARED=none measures the processes alone: redis.url points at a port where nothing
# listens, so every process keeps its dedup in memory (as it does while Redis is down)
# and no Redis competes for core 1.
# Knobs (env): DURATION (s, 5), CONNECTIONS (32), EVENTS (200000), WRK_CORE (1),
# ROUNDS (3: each setting runs that many times, alternating), SHARED (redis | none),
# REDIS_CORE (the core of redis-server, default WRK_CORE).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

EVENTS=${EVENTS:-200000}
ROUNDS=${ROUNDS:-3}
SHARED=${SHARED:-redis}
REDIS_CORE=${REDIS_CORE:-$WRK_CORE}

STOP_WAIT=100
bench_need wrk taskset cc python3 redis-server
bench_workdir bench-workers
PORT=$(free_port)
ADMIN=$(free_port)
REDIS_PORT=$(free_port)

cc -O2 -D_GNU_SOURCE -I"$SRC/src" -o "$WORK/gen" "$SRC/bench/gen.c" "$SRC/src/crypto/crypto.c" \
   -lcrypto -lpthread
echo "bench: generating $EVENTS signed, encrypted events..." >&2
"$WORK/gen" "$EVENTS" "$KEY" "$TOKEN" "127.0.0.1:$PORT" "$WEBHOOK_PATH" "$WORK/requests.bin"
mkdir -p "$WORK/scripts"
cp "$SRC/bench/handler.lua" "$WORK/scripts/"

# CPU ticks (user + system) of a process and its children still running.
ticks() {
    local total=0 p
    for p in "$@"; do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
    done
    echo "$total"
}

# run_one runs in a subshell (read < <(...)): the EXIT trap of this shell does not see
# its processes, so a failure there stops them itself.
run_failed() {
    tail -20 "$1" >&2
    stop_pid "$PID"
    stop_pid "$REDIS_PID"
    exit 1
}

# run_one W: prints "events_per_s cpu_us_per_event"
run_one() {
    local workers=$1
    # a fresh Redis per run: no dedup mark of an earlier run answers for these events
    if [ "$SHARED" = redis ]; then
        taskset -c "$REDIS_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
            --appendonly no > "$WORK/redis.log" 2>&1 &
        REDIS_PID=$!
    fi
    bench_webhook_conf \
        "webhook = { listen = \"127.0.0.1:$PORT\", path = \"$WEBHOOK_PATH\", max_connections_per_ip = 4096 }" \
        "admin = { listen = \"127.0.0.1:$ADMIN\" }" "workers = $workers" \
        "redis = { url = \"redis://127.0.0.1:$REDIS_PORT/0\" }"
    taskset -c 0 "$BIN" run --config "$WORK/bench.conf.lua" > "$WORK/larkgw.log" 2>&1 &
    PID=$!
    local pids=("$PID") ready=
    for _ in $(seq 200); do
        kill -0 "$PID" 2>/dev/null || run_failed "$WORK/larkgw.log"
        # every process serving, each with its Redis connection up (or down, on purpose)
        local up=1
        [ "$SHARED" = redis ] || up=0
        [ "$(curl -sf "http://127.0.0.1:$ADMIN/metrics" 2>/dev/null \
            | grep -cE "^larkgw_redis_up(\{[^}]*\})? $up\$")" = "$workers" ] && ready=1
        [ -n "$ready" ] && break
        sleep 0.1
    done
    [ -n "$ready" ] || { echo "bench: larkgw did not get ready" >&2; run_failed "$WORK/larkgw.log"; }
    if [ "$workers" -gt 1 ]; then
        # worker i on core i (the supervisor started them in order)
        local i=0 child
        for child in $(pgrep -P "$PID" | sort -n); do
            taskset -pc $((i % 2)) "$child" > /dev/null
            pids+=("$child")
            i=$((i + 1))
        done
    fi
    local t0 t1
    t0=$(ticks "${pids[@]}")
    taskset -c "$WRK_CORE" wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
        -s "$SRC/bench/wrk.lua" "http://127.0.0.1:$PORT$WEBHOOK_PATH" -- "$WORK/requests.bin" \
        > "$WORK/wrk.out"
    t1=$(ticks "${pids[@]}")
    stop_pid "$PID"
    PID=
    stop_pid "$REDIS_PID"
    REDIS_PID=
    local line
    line=$(grep '^BENCH ' "$WORK/wrk.out") || run_failed "$WORK/wrk.out"
    eval "${line#BENCH }"
    # shellcheck disable=SC2154  # the variables come from wrk.lua's BENCH line
    awk -v req="$requests" -v bad="$non2xx" -v dur="$duration_us" -v ticks=$((t1 - t0)) \
        -v hz="$(getconf CLK_TCK)" 'BEGIN {
        ok = req - bad
        printf "%.0f %.1f %d\n", ok / (dur / 1e6), ok ? ticks * 1e6 / hz / ok : 0, bad
    }'
}

# Rounds alternate the two settings, so a change in the box's other load hits both;
# the table shows the median of each and every round's ratio.
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$WORK/results"
for round in $(seq "$ROUNDS"); do
    read -r r1 c1 b1 < <(run_one 1)
    read -r r2 c2 b2 < <(run_one 2)
    echo "$r1 $c1 $b1 $r2 $c2 $b2" >> "$WORK/results"
    echo "bench: round $round: workers=1 $r1/s, workers=2 $r2/s" >&2
done
sort -n -k1,1 "$WORK/results" > "$WORK/by1"
sort -n -k4,4 "$WORK/results" > "$WORK/by2"
awk -v conns="$CONNECTIONS" -v load="$LOAD" -v shared="$SHARED" -v rounds="$ROUNDS" -v dur="$DURATION" '
FNR == 1 { file++ }
file == 1 { r[NR] = $0; n = NR }
file == 2 { s1[FNR] = $1; c1[FNR] = $2; b1 += $3 }
file == 3 { s2[FNR] = $4; c2[FNR] = $5; b2 += $6 }
END {
    m = int((n + 1) / 2)
    printf "%-34s %s\n", "larkgw workers bench", "(signed + encrypted, bench/handler.lua)"
    printf "%-34s %d, wrk on core 1 in both settings\n", "connections", conns
    printf "%-34s %d x %d s per setting, alternating\n", "rounds", rounds, dur
    printf "%-34s %s\n", "shared state", shared == "redis" ? "Redis (dedup claim per event)" : "none (each process in memory)"
    printf "%-34s %s\n", "load average before the runs", load
    printf "%-34s %9s %9s\n", "", "workers=1", "workers=2"
    printf "%-34s %9d %9d\n", "events/s (median, 2xx answers)", s1[m], s2[m]
    printf "%-34s %9.1f %9.1f\n", "CPU us per event (median round)", c1[m], c2[m]
    printf "%-34s %9d %9d\n", "non-2xx answers (all rounds)", b1, b2
    printf "%-34s %.2fx\n", "ratio of the medians", s1[m] ? s2[m] / s1[m] : 0
    printf "%-34s", "ratio per round"
    for (i = 1; i <= n; i++) { split(r[i], f, " "); printf " %.2fx", f[1] ? f[4] / f[1] : 0 }
    printf "\n"
}' "$WORK/results" "$WORK/by1" "$WORK/by2"
