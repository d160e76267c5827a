#!/usr/bin/env bash
# The tinder-feed demo: users placed with GEOADD, a feed from GEOSEARCH ranked by shared interests
# and nearness, a Bloom filter of seen profiles, and matches. Python, redis-py.
#   demos/tinder-feed/run.sh                                  against a terrarium it starts
#   demos/tinder-feed/run.sh --target redis://127.0.0.1:6379  against another server (BF.* needs RedisBloom;
#                                                             without it, seen profiles go in an exact set)
#   demos/tinder-feed/run.sh --check                          diff with expected.txt (CI)
#   demos/tinder-feed/run.sh --update                         rewrite expected.txt (review the diff)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="" MODE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --check) MODE=check; shift ;;
    --update) MODE=update; shift ;;
    *) echo "usage: $0 [--target redis://host:port] [--check | --update]" >&2; exit 2 ;;
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
run() { python3 "$HERE/tinder.py" --target "$TARGET"; }
case "$MODE" in
  check)
    OUT=$(mktemp)
    run > "$OUT"
    if diff -u "$HERE/expected.txt" "$OUT"; then
      rm -f "$OUT"; echo "tinder-feed: output matches expected.txt"
    else
      rm -f "$OUT"; echo "tinder-feed: output differs from expected.txt" >&2
      exit 1
    fi ;;
  update) run > "$HERE/expected.txt"; echo "tinder-feed: expected.txt rewritten" ;;
  *) run ;;
esac
