#!/usr/bin/env bash
# EVALSHA throughput of the rate-limiter demo's scripts on terrarium and the real Redis, in the
# same run, with redis-benchmark. Not a test: run it by hand (it builds a release binary).
#
#   bench/eval-benchmark.sh [redis-port (6379)] [requests (100000)]
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${1:-6379}
N=${2:-100000}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/terrarium up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
trap 'kill $TPID 2>/dev/null' EXIT
for _ in $(seq 1 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

rps() { # port pipeline args... -> requests per second
  local port=$1 p=$2; shift 2
  redis-benchmark -p "$port" -n "$N" -c 50 -P "$p" -r 1000000 --csv "$@" 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2
}
printf '%-28s %4s %12s %12s %8s\n' script P redis terrarium ratio
for name in sliding_log fixed_window; do
  body=$(cat "demos/rate-limiter/scripts/$name.lua")
  sha=$(redis-cli -p "$REDIS_PORT" SCRIPT LOAD "$body")
  redis-cli -p "$PORT" SCRIPT LOAD "$body" >/dev/null
  case $name in
    sliding_log) args=(EVALSHA "$sha" 1 "bench:{__rand_int__}" 5 2000 __rand_int__) ;;
    fixed_window) args=(EVALSHA "$sha" 1 "bench:fw:__rand_int__" 5 2000) ;;
  esac
  for P in 1 16; do
    r=$(rps "$REDIS_PORT" "$P" "${args[@]}")
    t=$(rps "$PORT" "$P" "${args[@]}")
    awk -v n="$name" -v p="$P" -v r="$r" -v t="$t" 'BEGIN { printf "%-28s %4s %12.0f %12.0f %7.2fx\n", n, p, r, t, t / r }'
  done
done
redis-cli -p "$REDIS_PORT" --scan --pattern 'bench:*' | xargs -r -n 500 redis-cli -p "$REDIS_PORT" DEL >/dev/null
