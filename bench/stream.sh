#!/usr/bin/env bash
# Streaming answers: CONVERSATIONS chats ask scripts/examples/assistant.lua at once; the
# emulator's stand-in model answers each with TOKENS words, one every DELAY_MS, as
# Server-Sent Events, and the assistant relays them into streaming cards (coalesced to
# the platform's 10 operations/s per card). larkgw is pinned to one core, the emulator
# (platform, model and the driver) to the other.
#   bench/stream.sh build/larkgw
# Prints CPU per token relayed (larkgw's user+system time from /proc over the tokens),
# card operations per second, and larkgw's RSS. Knobs (env): CONVERSATIONS (200),
# TOKENS (300), DELAY_MS (20), LARKGW_CORE (0), EMU_CORE (1).
set -euo pipefail

. "$(dirname "$0")/lib.sh"
bench_bin "${1:-}"

CONVERSATIONS=${CONVERSATIONS:-200}
TOKENS=${TOKENS:-300}
DELAY_MS=${DELAY_MS:-20}
EMU_CORE=${EMU_CORE:-1}
APP_ID=cli_a1b2c3d4e5f60718

bench_need taskset python3
bench_workdir stream
EMU_PORT=$(free_port)
EMU=127.0.0.1:$EMU_PORT

taskset -c "$EMU_CORE" "$BIN" emulator --listen "$EMU" --verification-token "$TOKEN" \
    --app-id "$APP_ID" --app-secret emulator-secret \
    --log-level warn > "$WORK/emulator.log" 2>&1 &
EMU_PID=$!
bench_wait_port "$EMU_PORT" "$EMU_PID" "$WORK/emulator.log"
mkdir -p "$WORK/scripts"
cp "$SRC/scripts/examples/assistant.lua" "$WORK/scripts/"
cat > "$WORK/bench.conf.lua" <<EOF
mode = "ws"
domain = "http://$EMU"
app_id = "$APP_ID"
app_secret = "emulator-secret"
verification_token = "$TOKEN"
scripts = "$WORK/scripts"
lua_path = "$SRC/lua"
state_dir = "$WORK"
admin = { listen = "127.0.0.1:0" }
log = { level = "warn" }
limits = { handler_max_s = 600 }
http = { allow = { "$EMU" }, max_in_flight = $((CONVERSATIONS * 2)),
         max_per_script = $((CONVERSATIONS * 2)) }
vars = { llm_url = "http://$EMU", llm_key = "bench-key", llm_model = "bench" }
EOF

taskset -c "$LARKGW_CORE" "$BIN" run --config "$WORK/bench.conf.lua" > "$WORK/larkgw.log" 2>&1 &
PID=$!

# The driver: waits for the long connection, sets the model's answer, starts every
# conversation, waits for every card to finish, and reads larkgw's CPU time around it.
python3 - "$EMU" "$PID" "$CONVERSATIONS" "$TOKENS" "$DELAY_MS" > "$WORK/result" <<'PY' || {
import json, os, sys, time, urllib.request
emu, pid, convs, tokens, delay = sys.argv[1], int(sys.argv[2]), *map(int, sys.argv[3:6])
tick = os.sysconf("SC_CLK_TCK")

def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://" + emu + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)

def cpu_s():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick      # utime + stime

def status(key):
    with open("/proc/%d/status" % pid) as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))

def wait(cond, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    sys.exit("bench: timed out waiting for " + what)

wait(lambda: any(c["open"] for c in call("GET", "/_emu/connections")), 30, "the connection")
call("POST", "/_emu/llm", {"answer": " ".join("tok%d" % i for i in range(tokens)),
                           "delay_ms": delay})
cpu0, t0 = cpu_s(), time.monotonic()
for i in range(convs):
    call("POST", "/_emu/events", {"text": "question %d" % i, "chat_id": "oc_bench%d" % i})
# the model's streams first (a light poll), then the cards (a heavy one, rarely)
def streamed():
    llm = call("GET", "/_emu/llm")
    return llm["streams_open"] == 0 and len(llm["calls"]) >= convs
wait(streamed, 60 + tokens * delay / 1000.0, "every answer streamed")
def finished():
    cards = call("GET", "/_emu/cards")
    done = [c for c in cards if not c["streaming_mode"]]
    return cards if len(done) >= convs else None
cards = wait(finished, 60 + convs * tokens * delay / 1000.0, "every card")
cpu1, t1 = cpu_s(), time.monotonic()
ops = sum(c["ops"] for c in cards)
refused = sum(c["refused"] for c in cards)
wrong = sum(1 for c in cards if len(c["texts"].get("answer", "").split()) != tokens)
print("conversations=%d tokens=%d delay_ms=%d wall_s=%.2f cpu_s=%.2f ops=%d refused=%d "
      "wrong=%d rss_kb=%d hwm_kb=%d" % (convs, tokens, delay, t1 - t0, cpu1 - cpu0, ops,
                                        refused, wrong, status("VmRSS"), status("VmHWM")))
PY
    cat "$WORK/result" >&2; tail -20 "$WORK/larkgw.log" >&2; exit 1; }

eval "$(tr ' ' '\n' < "$WORK/result" | sed 's/^/R_/')"
if [ "$R_wrong" != 0 ] || [ "$R_refused" != 0 ]; then
    echo "bench: some cards went wrong; larkgw said:" >&2
    grep -E 'WARN|ERROR' "$WORK/larkgw.log" | cut -c1-300 | sort | uniq -c | sort -rn | head -8 >&2
fi
awk -v c="$R_conversations" -v t="$R_tokens" -v d="$R_delay_ms" -v wall="$R_wall_s" \
    -v cpu="$R_cpu_s" -v ops="$R_ops" -v refused="$R_refused" -v wrong="$R_wrong" \
    -v rss="$R_rss_kb" -v hwm="$R_hwm_kb" 'BEGIN {
    printf "%-36s %s\n", "larkgw streaming bench", "(assistant.lua, 1 core)"
    printf "%-36s %d x %d tokens, one per %d ms\n", "conversations at once", c, t, d
    printf "%-36s %.1f s (ideal %.1f s)\n", "all cards finished in", wall, t * d / 1000
    printf "%-36s %.1f us\n", "CPU per token relayed", cpu * 1e6 / (c * t)
    printf "%-36s %.0f%%\n", "CPU of the core while streaming", 100 * cpu / wall
    printf "%-36s %.0f/s (%d in all)\n", "card operations", ops / wall, ops
    printf "%-36s %d\n", "refused (99991400)", refused
    printf "%-36s %d\n", "cards with a wrong final text", wrong
    printf "%-36s %.1f MB (peak %.1f MB)\n", "larkgw RSS", rss / 1024, hwm / 1024
}'
