#!/usr/bin/env bash
# Runs redis-py against terrarium and the real Redis and fails if what they see differs.
#   clients/python/run.sh [terrarium-binary] [real-redis-port]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-./target/debug/terrarium}
REAL=${2:-6379}
python3 -c 'import redis' 2>/dev/null || pip install -q 'redis==8.1.0'
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --kafka-port 0 --ephemeral --log-level warn >/dev/null &
TPID=$!
trap 'kill $TPID 2>/dev/null' EXIT
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.05; done
python3 clients/python/redis_py_check.py "$REAL" > /tmp/redis_py_real.txt
python3 clients/python/redis_py_check.py "$PORT" > /tmp/redis_py_terrarium.txt
if diff -u /tmp/redis_py_real.txt /tmp/redis_py_terrarium.txt; then
  echo "redis-py: $(wc -l < /tmp/redis_py_terrarium.txt) checks identical on terrarium and Redis"
else
  echo "redis-py: terrarium differs from Redis" >&2
  exit 1
fi
