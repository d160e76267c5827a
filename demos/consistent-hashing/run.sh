#!/usr/bin/env bash
# The consistent-hashing demo: hash % N versus a ring with virtual nodes, measured in-process
# (examples/hashing_demo.rs over src/cluster/ring.rs). It needs no server.
#   demos/consistent-hashing/run.sh            print the tables
#   demos/consistent-hashing/run.sh --check    diff with expected.txt (CI)
#   demos/consistent-hashing/run.sh --update   rewrite expected.txt (review the diff)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
MODE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --target) echo "consistent-hashing runs in-process and talks to no server; ignoring --target $2" >&2; shift 2 ;;
    --check) MODE=check; shift ;;
    --update) MODE=update; shift ;;
    *) echo "usage: $0 [--check | --update]" >&2; exit 2 ;;
  esac
done
cd "$ROOT"
run() { cargo run -q --example hashing_demo; }
case "$MODE" in
  check)
    OUT=$(mktemp)
    run > "$OUT"
    if diff -u "$HERE/expected.txt" "$OUT"; then
      rm -f "$OUT"; echo "consistent-hashing: output matches expected.txt"
    else
      rm -f "$OUT"; echo "consistent-hashing: output differs from expected.txt" >&2
      exit 1
    fi ;;
  update) run > "$HERE/expected.txt"; echo "consistent-hashing: expected.txt rewritten" ;;
  *) run ;;
esac
