#!/usr/bin/env bash
# GEOSEARCH throughput on terrarium and the real Redis in the same run, and BF.ADD / BF.EXISTS on
# terrarium (the reference Redis has no Bloom module). Not a test: run it by hand.
#
#   bench/geo-bloom-benchmark.sh [redis-port (6379)] [requests (100000)]
set -euo pipefail
cd "$(dirname "$0")/.."
REDIS_PORT=${1:-6379}
N=${2:-100000}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/terrarium up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
trap 'kill $TPID 2>/dev/null; redis-cli -p "$REDIS_PORT" DEL bench:geo >/dev/null' EXIT
for _ in $(seq 1 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done

# 10,000 points spread over a 0.4° square around Paris, the same on both servers.
python3 - > /tmp/terrarium-geo-load.txt <<'PY'
import random
r = random.Random(7)
for i in range(10000):
    print(f"GEOADD bench:geo {2.15 + r.random() * 0.4:.6f} {48.65 + r.random() * 0.4:.6f} p{i}")
PY
for p in "$REDIS_PORT" "$PORT"; do redis-cli -p "$p" < /tmp/terrarium-geo-load.txt >/dev/null; done

rps() { # port pipeline args...
  local port=$1 p=$2; shift 2
  redis-benchmark -p "$port" -n "$N" -c 50 -P "$p" -r 1000000 --csv "$@" 2>/dev/null | tail -n 1 | tr -d '"' | cut -d, -f2
}
printf '%-40s %4s %12s %12s %8s\n' command P redis terrarium ratio
for P in 1 16; do
  for q in "BYRADIUS 1 km ASC COUNT 10 WITHDIST" "BYBOX 2 2 km ASC"; do
    # shellcheck disable=SC2086
    r=$(rps "$REDIS_PORT" "$P" GEOSEARCH bench:geo FROMLONLAT 2.35 48.85 $q)
    # shellcheck disable=SC2086
    t=$(rps "$PORT" "$P" GEOSEARCH bench:geo FROMLONLAT 2.35 48.85 $q)
    awk -v n="GEOSEARCH $q" -v p="$P" -v r="$r" -v t="$t" 'BEGIN { printf "%-40s %4s %12.0f %12.0f %7.2fx\n", substr(n, 1, 40), p, r, t, t / r }'
  done
done
redis-cli -p "$PORT" BF.RESERVE bench:bf 0.01 1000000 >/dev/null
for P in 1 16; do
  for c in BF.ADD BF.EXISTS; do
    t=$(rps "$PORT" "$P" "$c" bench:bf "item:__rand_int__")
    printf '%-40s %4s %12s %12.0f %8s\n' "$c (terrarium only)" "$P" "-" "$t" "-"
  done
done
