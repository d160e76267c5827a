#!/usr/bin/env bash
# Runs psycopg 3 against terrarium and the real PostgreSQL 15 and fails if what they see differs.
#   clients/python/run_pg.sh [terrarium-binary] [real-postgres-port]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-./target/debug/terrarium}
REAL=${2:-5432}
python3 -c 'import psycopg' 2>/dev/null || pip install -q 'psycopg[binary]==3.3.*'
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PGPORT=$(free)
"$BIN" up --redis-port 0 --line-port 0 --pg-port "$PGPORT" --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
trap 'kill $TPID 2>/dev/null' EXIT
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PGPORT))" 2>/dev/null && break; sleep 0.05; done
python3 clients/python/psycopg_check.py "$REAL" > /tmp/psycopg_real.txt
python3 clients/python/psycopg_check.py "$PGPORT" > /tmp/psycopg_terrarium.txt
if diff -u /tmp/psycopg_real.txt /tmp/psycopg_terrarium.txt; then
  echo "psycopg: $(wc -l < /tmp/psycopg_terrarium.txt) checks identical on terrarium and PostgreSQL"
else
  echo "psycopg: terrarium differs from PostgreSQL" >&2
  exit 1
fi
