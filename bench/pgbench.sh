#!/usr/bin/env bash
# pgbench against terrarium and the real PostgreSQL 15 in the same run: a point-select script and
# a write script (UPDATE by key + INSERT), -c 4 -j 2, simple and extended protocol. terrarium runs
# durable (a temporary --data-dir, every COMMIT fsynced), as PostgreSQL does. Not a test.
#
#   bench/pgbench.sh [postgres-port (5432)] [seconds (10)] [rows (1000)]
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=${1:-5432}
SECS=${2:-10}
ROWS=${3:-1000}
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free)
DATA=$(mktemp -d)
./target/release/terrarium up --redis-port 0 --line-port 0 --pg-port "$PORT" --kafka-port 0 --data-dir "$DATA" --log-level warn >/dev/null &
TPID=$!
DB=terrarium_bench_$$
trap 'kill $TPID 2>/dev/null; rm -rf "$DATA"; psql -h 127.0.0.1 -p "$REAL" -U postgres -X -q -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1' EXIT
for _ in $(seq 1 100); do pg_isready -h 127.0.0.1 -p "$PORT" >/dev/null 2>&1 && break; sleep 0.05; done
psql -h 127.0.0.1 -p "$REAL" -U postgres -X -q -c "CREATE DATABASE $DB"
values=$(python3 -c "print(','.join(f'({i},0)' for i in range(1, $ROWS + 1)))")
setup="CREATE TABLE bench_accounts (aid int PRIMARY KEY, abalance int NOT NULL); INSERT INTO bench_accounts VALUES $values; CREATE TABLE bench_history (aid int, delta int);"
psql -h 127.0.0.1 -p "$REAL" -U postgres -d "$DB" -X -q -c "$setup"
psql -h 127.0.0.1 -p "$PORT" -U postgres -X -q -c "$setup"
dir=$(mktemp -d)
printf '\\set aid random(1, %s)\nSELECT abalance FROM bench_accounts WHERE aid = :aid;\n' "$ROWS" > "$dir/select.sql"
printf '\\set aid random(1, %s)\n\\set delta random(-5000, 5000)\nUPDATE bench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\nINSERT INTO bench_history (aid, delta) VALUES (:aid, :delta);\n' "$ROWS" > "$dir/write.sql"
tps() { # port db script mode
  pgbench -h 127.0.0.1 -p "$1" -U postgres -n -c 4 -j 2 -T "$SECS" -M "$4" -f "$3" "$2" 2>/dev/null \
    | awk '/^tps/ { print $3; exit }'
}
printf '%-14s %-9s %12s %12s %8s\n' script protocol postgres terrarium ratio
for script in select write; do
  for mode in simple extended; do
    r=$(tps "$REAL" "$DB" "$dir/$script.sql" "$mode")
    t=$(tps "$PORT" postgres "$dir/$script.sql" "$mode")
    awk -v s="$script" -v m="$mode" -v r="$r" -v t="$t" 'BEGIN { printf "%-14s %-9s %12.0f %12.0f %7.2fx\n", s, m, r, t, (r > 0 ? t / r : 0) }'
  done
done
