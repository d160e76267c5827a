#!/usr/bin/env bash
# Benchmarks terrarium against the real Redis in the same run, with redis-benchmark, and prints
# requests per second for both and the ratio terrarium/Redis. Not a test: run it by hand.
#
#   bench/redis-benchmark.sh [redis-port (6379)] [requests (200000)]
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${1:-6379}
N=${2:-200000}
TESTS=set,get,incr,lpush,rpop,sadd,hset,zadd,zpopmin
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/terrarium up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
trap 'kill $TPID 2>/dev/null' EXIT
for _ in $(seq 1 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

run() { # port pipeline -> "TEST rps" lines
  redis-benchmark -p "$1" -t "$TESTS" -n "$N" -c 50 -P "$2" -q --csv 2>/dev/null | tail -n +2 | tr -d '"' | cut -d, -f1,2
}
for P in 1 16; do
  echo "== -P $P (n=$N, c=50)"
  printf '%-10s %14s %14s %8s\n' test redis terrarium ratio
  join -t, <(run "$REDIS_PORT" "$P" | sort) <(run "$PORT" "$P" | sort) | while IFS=, read -r t r m; do
    awk -v t="$t" -v r="$r" -v m="$m" 'BEGIN { printf "%-10s %14.0f %14.0f %7.2fx\n", t, r, m, m / r }'
  done
done
