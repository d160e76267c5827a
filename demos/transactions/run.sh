#!/usr/bin/env bash
# The course's transaction lessons: atomicity, isolation levels with two sessions side by side,
# lost updates, write skew, MVCC, deadlocks, savepoints, the WAL, a retry loop.
#   demos/transactions/run.sh                                               against a terrarium it starts
#   demos/transactions/run.sh --target postgres://postgres@127.0.0.1:5432/postgres   against PostgreSQL 15
#   demos/transactions/run.sh --check                                       diff with expected.txt (CI)
set -euo pipefail
NAME=transactions
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
python3 -c 'import psycopg' 2>/dev/null || pip install -q 'psycopg[binary]==3.3.*'
demo_start_terrarium pg
run() { python3 "$HERE/lessons.py" --target "$TARGET" ${MODE:+--check}; }
demo_finish
