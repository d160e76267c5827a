#!/usr/bin/env bash
# The rate-limiter demo: four Lua limiters side by side, and the race a script prevents.
#   demos/rate-limiter/run.sh                                 against a terrarium it starts
#   demos/rate-limiter/run.sh --target redis://127.0.0.1:6379 against a real Redis
#   demos/rate-limiter/run.sh --check                         diff with expected.txt (CI)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="" CHECK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --check) CHECK=1; shift ;;
    *) echo "usage: $0 [--target redis://host:port] [--check]" >&2; exit 2 ;;
  esac
done
python3 -c 'import redis' 2>/dev/null || pip install -q 'redis==8.1.0'
if [ -z "$TARGET" ]; then
  BIN="$ROOT/target/debug/terrarium"
  [ -x "$BIN" ] || (cd "$ROOT" && cargo build -q)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --ephemeral --log-level warn >/dev/null &
  TPID=$!
  trap 'kill $TPID 2>/dev/null' EXIT
  for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.05; done
  TARGET="redis://127.0.0.1:$PORT"
fi
if [ -n "$CHECK" ]; then
  OUT=$(mktemp)
  python3 "$HERE/ratelimiter.py" --target "$TARGET" --check > "$OUT"
  if diff -u "$HERE/expected.txt" "$OUT"; then
    echo "rate-limiter: output matches expected.txt"
  else
    echo "rate-limiter: output differs from expected.txt" >&2
    exit 1
  fi
else
  python3 "$HERE/ratelimiter.py" --target "$TARGET"
fi
