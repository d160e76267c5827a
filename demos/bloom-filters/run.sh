#!/usr/bin/env bash
# The bloom-filters demo: "definitely not" versus "might be", the false-positive rate climbing as
# a filter fills (measured against the formula), choosing k, the storage math, then BF.* on a server.
#   demos/bloom-filters/run.sh                                  against a terrarium it starts
#   demos/bloom-filters/run.sh --target redis://127.0.0.1:6379  part B against another server (needs RedisBloom)
#   demos/bloom-filters/run.sh --check                          diff with expected.txt (CI)
#   demos/bloom-filters/run.sh --update                         rewrite expected.txt (review the diff)
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
cd "$ROOT"
# Build the example before starting a server, so the server does not sit idle through a compile.
cargo build -q --example bloom_demo
if [ -z "$TARGET" ]; then
  BIN="$ROOT/target/debug/terrarium"
  [ -x "$BIN" ] || cargo build -q
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  LPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" up --redis-port "$PORT" --line-port "$LPORT" --pg-port 0 --ephemeral --log-level warn >/dev/null &
  TPID=$!
  trap 'kill $TPID 2>/dev/null' EXIT
  for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.05; done
  TARGET="redis://127.0.0.1:$PORT"
fi
run() { "$ROOT/target/debug/examples/bloom_demo" --server "$TARGET"; }
case "$MODE" in
  check)
    OUT=$(mktemp)
    run > "$OUT"
    if diff -u "$HERE/expected.txt" "$OUT"; then
      rm -f "$OUT"; echo "bloom-filters: output matches expected.txt"
    else
      rm -f "$OUT"; echo "bloom-filters: output differs from expected.txt" >&2
      exit 1
    fi ;;
  update) run > "$HERE/expected.txt"; echo "bloom-filters: expected.txt rewritten" ;;
  *) run ;;
esac
