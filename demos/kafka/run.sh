#!/usr/bin/env bash
# The streaming lesson: one producer, two independent consumer groups, a rebalance, a resume.
#   demos/kafka/run.sh                                 against a terrarium it starts
#   demos/kafka/run.sh --target kafka://127.0.0.1:9092 against a real Kafka (compose.yaml)
#   demos/kafka/run.sh --check                         diff with expected.txt (CI)
set -euo pipefail
NAME=kafka
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
python3 -c 'import kafka' 2>/dev/null || pip install -q 'kafka-python==3.0.*'
demo_start_terrarium kafka
run() { python3 "$HERE/pipeline.py" --target "$TARGET" ${MODE:+--check}; }
demo_finish
