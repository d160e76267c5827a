#!/usr/bin/env bash
# The rate-limiter demo: four Lua limiters side by side, and the race a script prevents.
#   demos/rate-limiter/run.sh                                 against a terrarium it starts
#   demos/rate-limiter/run.sh --target redis://127.0.0.1:6379 against a real Redis
#   demos/rate-limiter/run.sh --check                         diff with expected.txt (CI)
set -euo pipefail
NAME=rate-limiter
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
python3 -c 'import redis' 2>/dev/null || pip install -q 'redis==8.1.0'
demo_start_terrarium
# --check and --update print only what must not change from run to run (the decisions).
run() { python3 "$HERE/ratelimiter.py" --target "$TARGET" ${MODE:+--check}; }
demo_finish
