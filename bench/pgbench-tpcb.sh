#!/usr/bin/env bash
# pgbench's built-in TPC-B-like script against terrarium and the real PostgreSQL 15 in the same run:
# `pgbench -i -s SCALE` (COPY, ALTER TABLE ... ADD PRIMARY KEY), then -c 4 -j 2 for SECS seconds
# over the simple and the extended protocol. terrarium runs durable (a temporary --data-dir, every
# COMMIT fsynced to its WAL), as PostgreSQL does with its defaults. Not a test.
#
#   bench/pgbench-tpcb.sh [postgres-port (5432)] [seconds (10)] [scale (1)]
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=${1:-5432}
SECS=${2:-10}
SCALE=${3:-1}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free)
DATA=$(mktemp -d)
./target/release/terrarium up --redis-port 0 --line-port 0 --pg-port "$PORT" --kafka-port 0 --data-dir "$DATA" --log-level warn >/dev/null &
TPID=$!
DB=terrarium_tpcb_$$
cleanup() {
  kill "$TPID" 2>/dev/null || true
  wait "$TPID" 2>/dev/null || true
  rm -rf "$DATA"
  psql -h 127.0.0.1 -p "$REAL" -U postgres -X -q -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do pg_isready -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1 && break; sleep 0.05; done
psql -h 127.0.0.1 -p "$REAL" -U postgres -X -q -c "CREATE DATABASE $DB"

# Seconds `pgbench -i` took, as it reports them ("done in 1.23 s (...)").
init() { # port db
  local out
  out=$(pgbench -h 127.0.0.1 -p "$1" -U postgres -i -s "$SCALE" "$2" 2>&1) || { echo "$out" >&2; exit 1; }
  awk '/^done in/ { print $3; exit }' <<<"$out"
}
# Transactions per second of the TPC-B-like script; a run with failed transactions stops the bench.
tps() { # port db mode
  local out
  out=$(pgbench -h 127.0.0.1 -p "$1" -U postgres -c 4 -j 2 -T "$SECS" -M "$3" "$2" 2>&1) || { echo "$out" >&2; exit 1; }
  if ! grep -q '^number of failed transactions: 0 ' <<<"$out"; then echo "$out" >&2; exit 1; fi
  awk '/^tps/ { print $3; exit }' <<<"$out"
}
printf '%-22s %12s %12s %8s\n' "scale $SCALE, ${SECS}s" postgres terrarium ratio
r=$(init "$REAL" "$DB")
t=$(init "$PORT" postgres)
awk -v r="$r" -v t="$t" 'BEGIN { printf "%-22s %11.2fs %11.2fs %7.2fx\n", "pgbench -i (seconds)", r, t, (r > 0 ? t / r : 0) }'
for mode in simple extended; do
  r=$(tps "$REAL" "$DB" "$mode")
  t=$(tps "$PORT" postgres "$mode")
  awk -v m="tpcb $mode (tps)" -v r="$r" -v t="$t" 'BEGIN { printf "%-22s %12.0f %12.0f %7.2fx\n", m, r, t, (r > 0 ? t / r : 0) }'
done
