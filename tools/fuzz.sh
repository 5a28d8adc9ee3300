#!/usr/bin/env bash
# `make fuzz`: runs every libFuzzer target for FUZZ_SECONDS (default 60) each, starting
# from its committed corpus; new inputs go to build-fuzz/corpus/, crashes to build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-60}
status=0
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work="$build/corpus/$name"
  mkdir -p "$work"
  echo "fuzz: $name for ${secs}s"
  if ! "$bin" -max_total_time="$secs" -artifact_prefix="$build/$name-" "$work" \
       "tests/fuzz/corpus/$name" >"$build/$name.log" 2>&1; then
    echo "fuzz: $name FOUND A CRASH, see $build/$name.log"
    status=1
  fi
done
exit $status
