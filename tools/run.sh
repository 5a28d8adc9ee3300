#!/usr/bin/env bash
# `make run`: the example bot. With credentials it talks to the platform; without, to the
# built-in emulator, and sends it one message so you see an event flow at once.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/larkgw}
state=build/state
mkdir -p "$state"
common=(--scripts scripts/examples --set "state_dir=$state" --set lua_path=lua)

if [ -n "${LARK_APP_ID:-}" ] && [ -n "${LARK_APP_SECRET:-}" ]; then
  echo "run: credentials found: long connection to ${LARK_DOMAIN:-https://open.feishu.cn}"
  exec "$bin" run --config packaging/larkgw.conf.lua "${common[@]}" "$@"
fi
if [ -n "${LARK_VERIFICATION_TOKEN:-}" ]; then
  echo "run: verification token found: webhook mode on 0.0.0.0:9999"
  exec "$bin" run --config packaging/larkgw.conf.lua --mode webhook "${common[@]}" "$@"
fi

emu=127.0.0.1:${EMULATOR_PORT:-9800}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "run: no LARK_APP_ID/LARK_APP_SECRET set: starting the emulator on $emu"
"$bin" emulator --listen "$emu" &
pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://$emu/_emu/connections" && break; sleep 0.1; done

# assistant.lua: the model is LLM_URL when set, else the emulator's stand-in model; the
# config allows that one host:port (how a model on loopback is allowed) and hands the
# script its settings. LLM_KEY stays in the environment: the file only names it.
llm=${LLM_URL:-http://$emu}
llm_host=${llm#*://}
llm_host=${llm_host%%/*}
cat > "$state/run.conf.lua" <<CONF
http = { allow = { "$llm_host" } }
vars = { llm_url = "$llm", llm_key = env("LLM_KEY") or "emulator-key",
         llm_model = env("LLM_MODEL") or "deepseek-chat" }
limits = { handler_max_s = 300 }
CONF
if [ -z "${LLM_URL:-}" ]; then
  curl -s -o /dev/null -X POST "http://$emu/_emu/llm" -d '{"delay_ms": 40, "answer":
    "Hello! I am the emulator'"'"'s stand-in for a language model. Set LLM_URL (and LLM_KEY) to talk to a real one; this answer streamed into the card word by word."}'
fi

"$bin" run --config "$state/run.conf.lua" --mode ws --domain "http://$emu" --set app_id=cli_e3a1a70000000001 \
  --set app_secret=emulator-secret --admin 127.0.0.1:9900 "${common[@]}" "$@" &
pids+=($!)
for _ in $(seq 100); do
  curl -s "http://$emu/_emu/connections" | grep -q '"open":[ ]*true' && break
  sleep 0.1
done

"$bin" emulator send --to "$emu" --text "hello from the emulator"
# what the bot answered, as the emulator's OpenAPI recorded it
replies() {
  curl -s "http://$emu/_emu/api_calls?path=/open-apis/im/v1/messages" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["body"]["msg_type"] == "text":
        print("run: the bot replied:", json.loads(c["body"]["content"]).get("text"))'
}
for _ in $(seq 50); do [ -n "$(replies)" ] && break; sleep 0.1; done
replies
# what assistant.lua streamed into its card, once streaming ended
card() {
  curl -s "http://$emu/_emu/cards" | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if not c["streaming_mode"]:
        print("run: the assistant streamed into a card:", c["texts"].get("answer"))'
}
for _ in $(seq 300); do [ -n "$(card)" ] && break; sleep 0.1; done
card
cat <<MSG

run: the gateway is connected to the emulator; echo.lua and assistant.lua answered the
     message above (the assistant's model: $llm).
     send another:   $bin emulator send --to $emu --text "hi"
     acks so far:    curl -s http://$emu/_emu/acks
     stop:           Ctrl-C
MSG
wait "${pids[1]}"
