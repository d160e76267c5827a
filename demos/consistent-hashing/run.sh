#!/usr/bin/env bash
# The consistent-hashing demo: hash % N versus a ring with virtual nodes, measured in-process
# (examples/hashing_demo.rs over src/cluster/ring.rs). It needs no server.
#   demos/consistent-hashing/run.sh            print the tables
#   demos/consistent-hashing/run.sh --check    diff with expected.txt (CI)
#   demos/consistent-hashing/run.sh --update   rewrite expected.txt (review the diff)
set -euo pipefail
NAME=consistent-hashing
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
[ -z "$TARGET" ] || echo "consistent-hashing runs in-process and talks to no server; ignoring --target $TARGET" >&2
cd "$ROOT"
run() { cargo run -q --example hashing_demo; }
demo_finish
