#!/usr/bin/env bash
# The bloom-filters demo: "definitely not" versus "might be", the false-positive rate climbing as
# a filter fills (measured against the formula), choosing k, the storage math, then BF.* on a server.
#   demos/bloom-filters/run.sh                                  against a terrarium it starts
#   demos/bloom-filters/run.sh --target redis://127.0.0.1:6379  part B against another server (needs RedisBloom)
#   demos/bloom-filters/run.sh --check                          diff with expected.txt (CI)
#   demos/bloom-filters/run.sh --update                         rewrite expected.txt (review the diff)
set -euo pipefail
NAME=bloom-filters
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
cd "$ROOT"
# Build the example before starting a server, so the server does not sit idle through a compile.
cargo build -q --example bloom_demo
demo_start_terrarium
run() { "$ROOT/target/debug/examples/bloom_demo" --server "$TARGET"; }
demo_finish
