#!/usr/bin/env bash
# Installs the Debian packages larkgw needs to build, test and benchmark, plus any named
# on the command line (`make fuzz` adds clang). Quick and silent when all are present.
set -euo pipefail
pkgs=(cmake make gcc pkg-config libevent-dev libssl-dev liblua5.4-dev lua5.4
      libcjson-dev libprotobuf-c-dev protobuf-c-compiler libwslay-dev lua-busted
      python3 openssl curl wrk util-linux procps tzdata
      libhiredis-dev redis-server "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
