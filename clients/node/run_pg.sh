#!/usr/bin/env bash
# Runs node-postgres against terrarium and the real PostgreSQL 15 and fails if what they see differs.
#   clients/node/run_pg.sh [terrarium-binary] [real-postgres-port]
# Each side gets a database of its own name (terrarium_node_<pid>; created and dropped on the real
# server), so a run never meets another one's tables.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-./target/debug/terrarium}
REAL=${2:-5432}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "node and npm are required under CI=true" >&2
    exit 1
  fi
  echo "skipping node-postgres: node is not installed" >&2
  exit 0
fi
# Versions come from package-lock.json; nothing is installed when node_modules is already there.
[ -d clients/node/node_modules ] || (cd clients/node && npm ci --silent --no-audit --no-fund)
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free)
DB=terrarium_node_$$
OUT=$(mktemp -d)
"$BIN" up --redis-port 0 --line-port 0 --pg-port "$PGPORT" --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
real_psql() { psql -h 127.0.0.1 -p "$REAL" -U postgres -X -q -d postgres "$@"; }
cleanup() {
  kill "$TPID" 2>/dev/null || true
  real_psql -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$OUT"
}
trap cleanup EXIT
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PGPORT))" 2>/dev/null && break; sleep 0.05; done
real_psql -c "CREATE DATABASE $DB" >/dev/null
node clients/node/pg_check.js "$REAL" "$DB" > "$OUT/real.txt"
node clients/node/pg_check.js "$PGPORT" "$DB" > "$OUT/terrarium.txt"
if diff -u "$OUT/real.txt" "$OUT/terrarium.txt"; then
  echo "node-postgres: $(wc -l < "$OUT/terrarium.txt") checks identical on terrarium and PostgreSQL"
else
  echo "node-postgres: terrarium differs from PostgreSQL" >&2
  exit 1
fi
